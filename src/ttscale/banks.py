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
           "import_bank", "export_bank", "PER_SAMPLE_FIELDS", "IMPORTED_VERIFIER",
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


# --- import / export -------------------------------------------------------------------------

#: the design.md contract's field names; per-problem fields are overridable on import
PER_SAMPLE_FIELDS = ("problem_id", "answer", "response", "completion_tokens", "prompt_tokens",
                     "mean_logprob", "score")
IMPORTED_VERIFIER = "imported"


def _detect_format(row: dict[str, Any], responses_field: str) -> str:
    if isinstance(row.get(responses_field), list):
        return "per-problem"
    if "response" in row and "problem_id" in row:
        return "per-sample"
    raise ConfigError("format", f"cannot tell the format from the first row's fields {sorted(row)}: "
                      f"per-problem rows have a list in {responses_field!r}, per-sample rows have "
                      "'problem_id' and 'response'; pass --format")


def _number(row: Any, field: str, kind: type, *, row_no: int, source: str) -> Any:
    from .errors import DataError

    value = row.get(field) if isinstance(row, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"expected a number, got {type(value).__name__} {value!r:.40}", source=source,
                        row=row_no, field=field)
    if kind is int:
        if float(value) != int(value) or value < 0:
            raise DataError(f"expected a non-negative integer, got {value!r}", source=source, row=row_no,
                            field=field)
        return int(value)
    return float(value)


def import_bank(file: str | Path, name: str, *, fmt: str = "auto", answer_type: str = "math",
                question_field: str = "question", answer_field: str = "answer",
                responses_field: str = "generated_answer", id_field: str | None = None,
                on_error: str = "skip", overwrite: bool = False) -> dict[str, Any]:
    """Read an external sample bank into the named bank (stream ``main``) and return its meta.

    Per-problem rows: ``{question, answer, generated_answer: [text | {text|response, ...}]}``;
    per-sample rows: ``{problem_id, answer, response, completion_tokens?, prompt_tokens?,
    mean_logprob?, score?}`` (design.md). Token counts, mean log-probs and scores are kept
    (``score`` also as a stored verdict of verifier ``imported``, so verifier-weighted
    strategies replay on it); missing token counts are estimated as characters / 4 and the
    bank meta says so. Malformed rows are skipped with a warning naming them, or rejected
    (``on_error="raise"``)."""
    import warnings

    from .errors import DataError
    from .tasks.base import AnswerTask
    from .tasks.sources import DataWarning, get_answer, get_text, read_rows, skip_message
    from .types import Problem, Sample, Usage, Verdict

    if fmt not in ("auto", "per-problem", "per-sample"):
        raise ConfigError("format", f"must be auto, per-problem or per-sample, got {fmt!r}")
    if on_error not in ("skip", "raise"):
        raise ConfigError("on_error", f"must be 'skip' or 'raise', got {on_error!r}")
    check_bank_name(name)
    task = AnswerTask(answer_type=answer_type)
    rows, source = read_rows(path=str(file))
    if not rows:
        raise DataError("no rows", source=source)
    if fmt == "auto":
        fmt = _detect_format(rows[0], responses_field)
    errors: list[DataError] = []
    problems: dict[str, Problem] = {}
    samples: list[Sample] = []
    verdicts: list[Verdict] = []
    counters = {"estimated_tokens": 0, "scores": 0, "logprobs": 0}

    def usage(row: dict[str, Any], text: str, row_no: int) -> Usage:
        completion = _number(row, "completion_tokens", int, row_no=row_no, source=source)
        prompt = _number(row, "prompt_tokens", int, row_no=row_no, source=source)
        if completion is None:
            counters["estimated_tokens"] += 1
            completion = max(1, round(len(text) / 4))
        return Usage(prompt_tokens=prompt or 0, completion_tokens=completion)

    def sample(pid: str, idx: int, text: str, row: dict[str, Any], row_no: int, problem: Problem) -> None:
        mean_lp = _number(row, "mean_logprob", float, row_no=row_no, source=source)
        score = _number(row, "score", float, row_no=row_no, source=source)
        if score is not None and not 0.0 <= score <= 1.0:
            raise DataError(f"scores must lie in [0, 1], got {score}", source=source, row=row_no, field="score")
        u = usage(row, text, row_no)
        s = Sample(problem_id=pid, index=idx, stream="main", text=text, answer=task.extract(text, problem),
                   usage=u, logprob_mean=mean_lp,
                   logprob_sum=None if mean_lp is None else mean_lp * u.completion_tokens,
                   scores={} if score is None else {IMPORTED_VERIFIER: score},
                   model=str(row.get("model", "")) if isinstance(row, dict) else "", config_hash="imported",
                   metadata={"row": row_no, "tokens_estimated": "completion_tokens" not in row
                             or row.get("completion_tokens") is None})
        samples.append(s)
        counters["logprobs"] += mean_lp is not None
        if score is not None:
            counters["scores"] += 1
            verdicts.append(Verdict(problem_id=pid, sample_index=idx, stream="main", verifier=IMPORTED_VERIFIER,
                                    score=score, raw="imported"))

    def gold(row: dict[str, Any], row_no: int) -> str:
        g = get_answer(row, answer_field, row_no=row_no, source=source)
        if answer_type != "code" and task.canonicalize(g) is None:
            raise DataError(f"answer {g!r:.60} has no {answer_type} reading", source=source, row=row_no,
                            field=answer_field)
        return g

    next_index: dict[str, int] = {}
    for row_no, row in enumerate(rows, start=1):
        try:
            if fmt == "per-problem":
                question = get_text(row, question_field, row_no=row_no, source=source)
                assert question is not None
                answer = gold(row, row_no)
                responses = row.get(responses_field)
                if not isinstance(responses, list):
                    raise DataError(f"expected a list of responses, got {type(responses).__name__}",
                                    source=source, row=row_no, field=responses_field)
                pid = str(row.get(id_field or "id") or f"{name}-{row_no:05d}")
                if pid in problems:
                    raise DataError(f"duplicate problem id {pid!r}", source=source, row=row_no, field="id")
                problem = Problem(id=pid, prompt=question, answers=[answer], task="bank",
                                  answer_type=answer_type, metadata={"row": row_no, "question": question})  # type: ignore[arg-type]
                staged_before = (len(samples), len(verdicts))
                try:
                    for i, item in enumerate(responses):
                        extra: dict[str, Any] = item if isinstance(item, dict) else {}
                        text = item if isinstance(item, str) else extra.get("text", extra.get("response"))
                        if not isinstance(text, str):
                            raise DataError(f"response {i} is {type(item).__name__}, not text", source=source,
                                            row=row_no, field=f"{responses_field}[{i}]")
                        sample(pid, i, text, extra, row_no, problem)
                except DataError:
                    del samples[staged_before[0]:], verdicts[staged_before[1]:]
                    raise
                problems[pid] = problem
            else:
                pid_name, pid_value = "problem_id", row.get("problem_id") if isinstance(row, dict) else None
                if isinstance(pid_value, bool) or not isinstance(pid_value, str | int) or not str(pid_value).strip():
                    raise DataError("missing or invalid problem id", source=source, row=row_no, field=pid_name)
                pid = str(pid_value).strip()
                text = get_text(row, "response", row_no=row_no, source=source, allow_empty=True)
                assert text is not None
                answer = gold(row, row_no)
                if pid in problems:
                    if problems[pid].answers != [answer]:
                        raise DataError(f"gold answer {answer!r} differs from {problems[pid].answers[0]!r} given "
                                        f"earlier for problem {pid!r}", source=source, row=row_no, field=answer_field)
                    problem = problems[pid]
                else:
                    question = row.get(question_field)
                    prompt = question if isinstance(question, str) and question.strip() else pid
                    problem = Problem(id=pid, prompt=prompt, answers=[answer], task="bank",
                                      answer_type=answer_type, metadata={"row": row_no})  # type: ignore[arg-type]
                idx = next_index.get(pid, 0)
                sample(pid, idx, text, row, row_no, problem)
                problems.setdefault(pid, problem)
                next_index[pid] = idx + 1
        except DataError as exc:
            if on_error == "raise":
                raise
            errors.append(exc)
    if errors:
        warnings.warn(skip_message(errors, source), DataWarning, stacklevel=2)
    if not samples:
        raise DataError("no valid rows to import", source=source)
    meta = {"name": name, "source": str(file), "format": fmt, "answer_type": answer_type,
            "problems": len(problems), "samples": len(samples), "skipped_rows": [e.row for e in errors],
            "iid": None, "note": "imported; ttscale cannot know how these samples were drawn",
            "tokens": (f"{counters['estimated_tokens']} of {len(samples)} samples had no completion_tokens: "
                       "estimated as characters / 4") if counters["estimated_tokens"] else "as imported",
            "samples_with_score": counters["scores"], "samples_with_logprob": counters["logprobs"],
            "score_verifier": IMPORTED_VERIFIER}

    def fill(store: Store) -> dict[str, Any]:
        store.put_problems(problems.values())
        store.put_samples(samples)
        if verdicts:
            store.put_verdicts(verdicts)
        return meta

    per_problem = max(next_index.values(), default=0) if fmt == "per-sample" else max(
        (sum(1 for s in samples if s.problem_id == p) for p in problems), default=1)
    write_bank(bank_dir(name), fill, task="bank", task_options={"bank": name, "answer_type": answer_type},
               n=per_problem, overwrite=overwrite)
    return meta


def export_bank(name_or_path: str, out: str | Path, fmt: str = "per-sample", stream: str = "main") -> int:
    """Write a bank's samples in the import formats (``per-sample``: one row per sample with
    the design.md fields plus ``stream``/``extracted``/``model``; ``per-problem``: question,
    answer, generated_answer list). ``.parquet`` files are written as Parquet, anything else
    as JSONL. Returns the number of rows written."""
    import json

    if fmt not in ("per-sample", "per-problem"):
        raise ConfigError("format", f"must be per-sample or per-problem, got {fmt!r}")
    path = resolve_bank(name_or_path)
    with Store(path, readonly=True) as store:
        problems = {p.id: p for p in store.problems()}
        verdicts = {(v.problem_id, v.stream, v.sample_index): v.score for v in store.verdicts()
                    if v.verifier == IMPORTED_VERIFIER}
        rows: list[dict[str, Any]] = []
        by_problem: dict[str, list[str]] = {}
        for s in store.samples():
            if stream != "*" and s.stream != stream:
                continue
            p = problems.get(s.problem_id)
            gold = p.answers[0] if p and p.answers else None
            if fmt == "per-problem":
                by_problem.setdefault(s.problem_id, []).append(s.text)
                continue
            score = s.scores.get(IMPORTED_VERIFIER, verdicts.get((s.problem_id, s.stream, s.index)))
            rows.append({"problem_id": s.problem_id, "answer": gold, "response": s.text,
                         "completion_tokens": s.usage.completion_tokens, "prompt_tokens": s.usage.prompt_tokens,
                         "mean_logprob": s.logprob_mean, "score": score, "stream": s.stream, "index": s.index,
                         "extracted": s.answer, "model": s.model})
        if fmt == "per-problem":
            for pid, texts in by_problem.items():
                p = problems.get(pid)
                question = (p.metadata.get("question") if p else None) or (p.prompt if p and isinstance(p.prompt, str)
                                                                            else pid)
                rows.append({"id": pid, "question": question, "answer": p.answers[0] if p and p.answers else None,
                             "generated_answer": texts})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.Table.from_pylist(rows), out)
    else:
        with open(out, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return len(rows)
