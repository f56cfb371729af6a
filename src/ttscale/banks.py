"""Named sample banks: ``--bank NAME`` anywhere a run directory is accepted.

A bank is a run directory — ``samples.sqlite`` (problems, samples, meta) plus
``config.json`` naming the task that reads and grades its answers — stored under
``$TTSCALE_HOME/banks/NAME`` (default ``~/.cache/ttscale/banks/NAME``). ``ttscale bank
import`` creates them from published sample files; built-in banks are materialised on
first use:

- ``champ``: the CHAMP responses (4 models × 18 prompt settings = 72 per problem) in stream
  ``main``, and each model's 18 in stream ``model:<slug>``;
- ``champ-gpt-3.5``, ``champ-gpt-4``, ``champ-gpt-4-turbo``, ``champ-palm-2-medium``: one
  model's 18 responses per problem in stream ``main``, for tools that read only ``main``.

Built-in banks are built in a temporary directory and renamed into place, so two
processes asking at once never see a half-built bank.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import RunConfig
from .errors import ConfigError, StoreError, UnknownNameError
from .store import STORE_FILENAME, Store

__all__ = ["ttscale_home", "banks_dir", "resolve_bank", "list_banks", "bank_dir", "check_bank_name",
           "write_bank", "BUILTIN_BANKS", "bank_task"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def ttscale_home() -> Path:
    return Path(os.environ.get("TTSCALE_HOME") or "~/.cache/ttscale").expanduser()


def banks_dir() -> Path:
    return ttscale_home() / "banks"


def check_bank_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise ConfigError("name", f"bank names are letters, digits, '.', '_' and '-' (got {name!r})")
    return name


def bank_dir(name: str) -> Path:
    return banks_dir() / check_bank_name(name)


def _is_bank(path: Path) -> bool:
    return (path / STORE_FILENAME).is_file()


def resolve_bank(name_or_path: str | os.PathLike[str]) -> Path:
    """The run directory of a bank given as a path (a run directory or its
    ``samples.sqlite``) or a name (imported, or built-in and materialised now)."""
    raw = str(name_or_path)
    path = Path(raw).expanduser()
    if path.is_file() and path.name == STORE_FILENAME:
        return path.parent
    if path.is_dir() and _is_bank(path):
        return path
    if _NAME.fullmatch(raw):
        d = banks_dir() / raw
        if _is_bank(d):
            return d
        if raw in BUILTIN_BANKS:
            return _materialise(raw)
    if path.exists():
        raise StoreError(f"{path} holds no sample bank ({STORE_FILENAME} missing)")
    known = sorted({b["name"] for b in list_banks()} | set(BUILTIN_BANKS))
    raise UnknownNameError("bank", raw, known)


def list_banks() -> list[dict[str, Any]]:
    """Every bank under the banks directory, plus built-ins not yet materialised."""
    out = []
    root = banks_dir()
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if not d.is_dir() or d.name.startswith(".") or not _is_bank(d):
            continue
        info: dict[str, Any] = {"name": d.name, "path": str(d), "built_in": d.name in BUILTIN_BANKS}
        try:
            with Store(d, readonly=True) as store:
                meta = store.get_meta("bank", {}) or {}
                info.update(problems=len(store.problems()), samples=store.count_samples(),
                            streams=store.streams(), answer_type=meta.get("answer_type"),
                            source=meta.get("source"), iid=meta.get("iid"))
        except StoreError as exc:
            info["error"] = str(exc)
        out.append(info)
    have = {b["name"] for b in out}
    for name, (_, doc) in sorted(BUILTIN_BANKS.items()):
        if name not in have:
            out.append({"name": name, "path": None, "built_in": True, "note": doc + " (built on first use)"})
    return out


def bank_task(path: Path) -> tuple[str, dict[str, Any]]:
    """(task name, task options) recorded in a bank's ``config.json``."""
    try:
        cfg = json.loads((path / "config.json").read_text())["config"]
        return cfg["task"], cfg.get("task_options", {})
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}/config.json is missing or unreadable ({exc})") from None


def write_bank(target: Path, fill: Callable[[Store], dict[str, Any]], *, task: str,
               task_options: dict[str, Any], n: int, overwrite: bool = False) -> Path:
    """Build a bank atomically: ``fill(store)`` writes problems and samples into a fresh
    store in a temporary sibling directory and returns the bank meta; then the directory
    is renamed to ``target``. With ``overwrite`` an existing bank is replaced; without,
    it is an error (or, if another process just built it, kept)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not overwrite:
        raise ConfigError("name", f"bank {target.name!r} exists at {target}; pass --overwrite to replace it")
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        store = Store(tmp)
        try:
            meta = fill(store)
            store.set_meta("bank", meta)
        finally:
            store.close()
        config = RunConfig.build(task=task, task_options=task_options, backend="replay", n=max(1, n),
                                 greedy=False, out_dir=str(target))
        config.save(tmp / "config.json", {"bank": meta})
        if target.exists() and overwrite:
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            if _is_bank(target):  # another process won the race: theirs is as good as ours
                shutil.rmtree(tmp, ignore_errors=True)
                return target
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# --- built-in banks --------------------------------------------------------------------------


def _build_champ(name: str, models: tuple[str, ...] | None) -> Path:
    from .tasks.champ import MODELS, NOT_IID_NOTE, SETTINGS, ChampTask, champ_samples, merge_answers

    chosen = models or MODELS

    def fill(store: Store) -> dict[str, Any]:
        task = ChampTask()
        problems = task.load()
        samples = champ_samples(task, problems, chosen, per_model_streams=models is None)
        samples = merge_answers(task, problems, samples)
        store.put_problems(problems)
        store.put_samples(samples)
        return {"name": name, "source": "champ-dataset 1.0 (v0): Mao, Kim & Zhou 2024, CHAMP",
                "task": "champ", "answer_type": "math", "models": list(chosen), "prompt_settings": list(SETTINGS),
                "per_problem": len(chosen) * len(SETTINGS), "iid": False, "note": NOT_IID_NOTE,
                "streams": {"main": "all responses of the models listed, index = model × 18 + setting",
                            **({"model:<slug>": "one model's 18 responses, index = setting"} if models is None
                               else {})},
                "tokens": "estimated as characters / 4 (not in the dataset)",
                "grading": "automatic: summary sentence read by ttscale.tasks.champ.champ_extract, compared "
                           "with the gold by math-verify once at build time; correct answers share the "
                           "gold's canonical form, wrong ones merge only on equal canonical strings"}

    return write_bank(bank_dir(name), fill, task="champ", task_options={"equivalence": "canonical"},
                      n=len(chosen) * 18)


def _champ_builder(model: str | None) -> Callable[[str], Path]:
    return lambda name: _build_champ(name, (model,) if model else None)


def _builtins() -> dict[str, tuple[Callable[[str], Path], str]]:
    from .tasks.champ import MODELS, model_slug  # light: the dataset is read only when built

    out = {"champ": (_champ_builder(None), "CHAMP: 270 problems × 72 real responses (4 models × 18 prompts)")}
    for m in MODELS:
        out[f"champ-{model_slug(m)}"] = (_champ_builder(m), f"CHAMP: {m}'s 18 responses per problem")
    return out


#: built-in bank name → (builder, one-line description)
BUILTIN_BANKS: dict[str, tuple[Callable[[str], Path], str]] = _builtins()


def _materialise(name: str) -> Path:
    target = bank_dir(name)
    if _is_bank(target):
        return target
    build, _ = BUILTIN_BANKS[name]
    return build(name)
