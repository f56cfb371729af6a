"""Library entry points: ``run`` a strategy over a task into a run directory, ``solve`` one
problem. The CLI's ``ttscale run`` is a thin layer over :func:`run`.

A run directory holds ``config.json`` (the resolved config plus package versions),
``samples.sqlite`` (every sample, verdict and decision) and ``summary.json`` (the numbers of
the printed table). Running again into the same directory with the same config resumes:
stored samples are reused, nothing is drawn twice.
"""

from __future__ import annotations

import asyncio
import json
import platform
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .analysis.estimators import class_counts, maj_at_k, mean_se
from .config import RunConfig, SamplingConfig
from .engine import Engine, LiveSource, RunStats
from .errors import ConfigError, StoreError
from .registry import backends, strategies, tasks
from .store import Store
from .strategies.base import Strategy
from .tasks.base import Task
from .types import Decision, Problem, Prompt

__all__ = ["run", "run_async", "solve", "RunResult", "make_task", "make_backend", "make_strategy",
           "versions", "parse_strategy_spec"]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("ttscale", "torch", "transformers", "httpx", "math-verify", "pydantic"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def make_task(name: str, **options: Any) -> Task:
    """A registered task by name, or a task from a path: a YAML/TOML task file, or a
    JSONL/CSV/Parquet file of problems (read with the ``fields`` mapping in ``options``)."""
    from .tasks.taskfile import is_data_file, is_task_file, load_task_file
    if name not in tasks and is_task_file(name):
        return load_task_file(name, **options)
    if name not in tasks and is_data_file(name):
        name, options = "file", {"path": name, **options}
    task: Task = tasks.create(name, **options)
    return task


def make_backend(name: str, model: str | None = None, **options: Any) -> Any:
    if model is not None:
        options["model"] = model
    return backends.create(name, **options)


def parse_strategy_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"beta:threshold=0.9,max_samples=16"`` → ("beta", {...}); values parsed as JSON
    where possible (numbers, booleans), else kept as strings."""
    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError("strategy", f"expected key=value in {spec!r}, got {item!r}")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value.strip()
    return name.strip(), params


def make_strategy(spec: str | Strategy, **params: Any) -> Strategy:
    if isinstance(spec, Strategy):
        return spec
    name, parsed = parse_strategy_spec(spec)
    strategy: Strategy = strategies.create(name, **{**parsed, **params})
    return strategy


@dataclass
class RunResult:
    run_dir: Path
    config: RunConfig
    summary: dict[str, Any]
    decisions: dict[str, list[Decision]] = field(default_factory=dict)


def _row(method: str, acc: list[float], samples: float, tokens: list[float]) -> dict[str, Any]:
    a, se = mean_se(acc)
    return {"method": method, "accuracy": a, "accuracy_se": se, "mean_samples": samples,
            "mean_tokens": mean_se(tokens)[0], "problems": len(acc)}


def summarize(task: Task, problems: list[Problem], store: Store, n: int,
              decisions: dict[str, list[Decision]]) -> list[dict[str, Any]]:
    """Greedy accuracy, sampled pass@1 and exact maj@k for k = 1, 2, 4, ..., n from the bank."""
    rows = []
    if "greedy" in decisions:
        ds = decisions["greedy"]
        rows.append(_row("greedy", [float(bool(d.correct)) for d in ds], 1,
                         [d.usage.completion_tokens for d in ds]))
    per_problem: list[tuple[list[int], list[bool], int, float]] = []
    for p in problems:
        ss = sorted(store.get_samples(p.id, "main").values(), key=lambda s: s.index)[:n]
        if len(ss) < n:
            continue
        answers = [s.answer for s in ss]
        correct = [bool(task.is_correct(a, p)) for a in answers]
        counts, corr, none = class_counts(answers, correct)
        per_problem.append((counts, corr, none, sum(s.usage.completion_tokens for s in ss) / n))
    if per_problem:
        tok = [t for *_, t in per_problem]
        ks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if k <= n} | {n})
        rows.append(_row("pass@1 (sampled)",
                         [sum(c for c, ok in zip(cs, co, strict=True) if ok) / n for cs, co, _, _ in per_problem],
                         1, tok))
        for k in ks:
            rows.append(_row(f"maj@{k}", [maj_at_k(cs, co, k, none) for cs, co, none, _ in per_problem],
                             k, [t * k for t in tok]))
    for label, ds in decisions.items():
        if label == "greedy" or not ds:
            continue
        rows.append(_row(f"{label} (live)", [float(bool(d.correct)) for d in ds],
                         sum(d.samples_used for d in ds) / len(ds), [d.usage.completion_tokens for d in ds]))
    return rows


def _prepare_dir(config: RunConfig) -> Path:
    run_dir = Path(config.out_dir or Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{config.task}")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError("out_dir", f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None
    cfg_path = run_dir / "config.json"
    if cfg_path.exists():
        try:
            saved = json.loads(cfg_path.read_text())["config"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise StoreError(f"{cfg_path} is unreadable ({exc}); choose another run directory") from None
        mine = config.to_json()
        # where the model is served (URL, timeouts) and how fast we go do not change the samples
        diff = [k for k in mine if k not in ("out_dir", "concurrency", "backend_options")
                and saved.get(k) != mine[k]]
        if diff:
            raise ConfigError(diff[0], f"{run_dir} holds a run with a different {diff[0]} "
                              f"({saved.get(diff[0])!r} vs {mine[diff[0]]!r}); use another --out or --resume it")
    return run_dir


async def run_async(config: RunConfig, *, backend: Any = None, task: Task | None = None,
                    progress: bool = False, console: Any = None) -> RunResult:
    """Run ``config`` into its run directory and return the summary."""
    task = task or make_task(config.task, **config.task_options)
    strategy = make_strategy(config.strategy, **({"n": config.n} if config.strategy == "sc" else {}),
                             **config.strategy_params)
    problems = task.load()
    if config.limit:
        problems = problems[: config.limit]
    if not problems:
        raise ConfigError("task", f"task {config.task!r} has no problems")
    run_dir = _prepare_dir(config)
    store = Store(run_dir)
    owns_backend = backend is None
    if backend is None:
        backend = make_backend(config.backend, config.model, **config.backend_options)
    config.save(run_dir / "config.json", {"versions": versions(), "model_id": getattr(backend, "model", None)})
    store.put_problems(problems)
    stats = RunStats()
    source = LiveSource(backend, store, task, seed=config.seed, stats=stats)
    engine = Engine(task, source, store=store, sampling=config.sampling, budget=config.budget,
                    concurrency=config.concurrency, backend=backend, stats=stats)
    plan: list[tuple[str, Strategy]] = []
    if config.greedy:
        plan.append(("greedy", make_strategy("greedy")))
    plan.append((strategy.label, strategy))
    decisions: dict[str, list[Decision]] = {}
    try:
        from .progress import run_progress
        with run_progress(enabled=progress, total=len(problems) * len(plan), stats=stats,
                          console=console) as advance:
            for label, strat in plan:
                decisions[label] = await engine.run(problems, strat, label=label, progress=advance)
    finally:
        if owns_backend:
            await backend.aclose()
    rows = summarize(task, problems, store, config.n, decisions)
    summary = {"task": config.task, "model": getattr(backend, "model", config.model),
               "backend": config.backend, "n": config.n, "problems": len(problems),
               "samples_generated": stats.generated, "samples_in_store": store.count_samples(),
               "wall_time": time.monotonic() - stats.started, "rows": rows}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    store.close()
    return RunResult(run_dir=run_dir, config=config, summary=summary, decisions=decisions)


def run(config: RunConfig | None = None, **kwargs: Any) -> RunResult:
    """Synchronous :func:`run_async`; keyword arguments build a :class:`RunConfig`."""
    config = config or RunConfig.build(**kwargs)
    return asyncio.run(run_async(config))


def solve(problem: Problem | Prompt, strategy: str | Strategy = "sc", *, backend: Any = None,
          task: Task | str = "facts", sampling: SamplingConfig | None = None, seed: int = 0) -> Decision:
    """Answer one problem with a strategy (no store). ``problem`` may be a bare prompt."""
    task = make_task(task) if isinstance(task, str) else task
    if not isinstance(problem, Problem):
        problem = Problem(id="p0", prompt=problem, task=task.name)
    backend = backend or make_backend("hf")
    engine = Engine(task, LiveSource(backend, None, task, seed=seed), sampling=sampling, backend=backend)
    return asyncio.run(engine.solve(problem, make_strategy(strategy)))
