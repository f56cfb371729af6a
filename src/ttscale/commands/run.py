"""``ttscale run``: run a strategy on a task, keep every sample, print the headline table."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from ..config import Budget, RunConfig, SamplingConfig, validate_model
from ..errors import ConfigError
from .common import parse_kv, print_table

DEFAULT_LIMIT = 120  # facts problems in the default main job (20 per family): ~2.5 min on a quiet 2-core CPU


def add_parser(sub: Any, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("run", help=help_text, description=(
        "Run a strategy on a task. With no options: the built-in `facts` task on the embedded "
        "Gemma 3 270M model, 8 samples per problem, printing greedy, sampled pass@1 and exact "
        "maj@k for k=1,2,4,8. The run directory (config.json, samples.sqlite, summary.json) is "
        "printed last; running again with the same --out resumes without redrawing anything."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--task", default="facts", help="registered task name")
    p.add_argument("--task-option", action="append", metavar="KEY=VALUE", help="task option (repeatable)")
    p.add_argument("--difficulty", type=int, help="task difficulty knob (tasks that have one, e.g. arith)")
    p.add_argument("--field", action="append", metavar="NAME=COLUMN",
                   help="file/dataset tasks: read logical field NAME (question, answer, id) from COLUMN (repeatable)")
    p.add_argument("--limit", type=int, default=None,
                   help=f"use the first LIMIT problems (default {DEFAULT_LIMIT} for facts, all otherwise)")
    p.add_argument("--backend", default="hf", help="hf (embedded), openai (any /v1 server), mock, vllm")
    p.add_argument("--model", default=None, help="model: a GGUF file, HF directory, or the upstream's model name")
    p.add_argument("--base-url", default=None, help="openai backend: server URL (or $OPENAI_BASE_URL)")
    p.add_argument("--api-key", default=None, help="openai backend: API key (or $OPENAI_API_KEY)")
    p.add_argument("--backend-option", action="append", metavar="KEY=VALUE", help="backend option (repeatable)")
    p.add_argument("-n", "--samples", type=int, default=8, dest="n", help="samples per problem (N)")
    p.add_argument("--strategy", default="sc", help="strategy spec NAME[:k=v,...]; see `ttscale strategies`")
    p.add_argument("--no-greedy", action="store_true", help="skip the greedy baseline")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=None, help="tokens per sample (task default if unset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-samples-per-problem", type=int, default=None)
    p.add_argument("--max-tokens-per-problem", type=int, default=None)
    p.add_argument("--run-max-samples", type=int, default=None, help="stop scheduling problems after this many samples")
    p.add_argument("--concurrency", type=int, default=4, help="problems in flight at once")
    p.add_argument("--out", default=None, help="run directory (default runs/<time>-<task>)")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a run from its saved config")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print summary.json instead of the table")
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    if args.resume:
        path = Path(args.resume) / "config.json"
        if not path.exists():
            raise ConfigError("resume", f"{path} not found; is {args.resume} a run directory?")
        try:
            data = json.loads(path.read_text())["config"]
            data["out_dir"] = str(args.resume)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError("resume", f"{path} is unreadable or not a ttscale run config "
                              f"({type(exc).__name__}: {exc})") from None
        return validate_model(RunConfig, data)
    task_options = parse_kv(args.task_option, "--task-option")
    if args.difficulty is not None:
        task_options["difficulty"] = args.difficulty
    if getattr(args, "field", None):
        task_options["fields"] = {k: str(v) for k, v in parse_kv(args.field, "--field").items()}
    backend_options = parse_kv(args.backend_option, "--backend-option")
    if args.base_url:
        backend_options["base_url"] = args.base_url
    if args.api_key:
        backend_options["api_key"] = args.api_key
    limit = args.limit if args.limit is not None else (DEFAULT_LIMIT if args.task == "facts" else None)
    if args.n is not None and args.n <= 0:
        raise ConfigError("n", f"must be >= 1 (got {args.n})")
    if args.temperature < 0:
        raise ConfigError("temperature", f"must be >= 0 (got {args.temperature})")
    sampling = SamplingConfig.build(temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens)
    budget = validate_model(Budget, {k: v for k, v in {
        "max_samples": args.max_samples_per_problem, "max_tokens": args.max_tokens_per_problem,
        "run_max_samples": args.run_max_samples}.items() if v is not None})
    from ..runner import parse_strategy_spec
    name, params = parse_strategy_spec(args.strategy)
    return RunConfig.build(task=args.task, task_options=task_options, limit=limit, backend=args.backend,
                           model=args.model, backend_options=backend_options, n=args.n, strategy=name,
                           strategy_params=params, greedy=not args.no_greedy,
                           sampling=sampling.model_dump(exclude_unset=True), budget=budget.model_dump(),
                           seed=args.seed, concurrency=args.concurrency, out_dir=args.out)


def main(args: argparse.Namespace) -> int:
    from ..runner import run_async

    config = config_from_args(args)
    # api keys are never written to config.json
    if "api_key" in config.backend_options:
        opts = dict(config.backend_options)
        key = opts.pop("api_key")
        config = config.model_copy(update={"backend_options": opts})
        backend_key: dict[str, Any] = {"api_key": key}
    else:
        backend_key = {}
    backend = None
    if backend_key:
        from ..runner import make_backend
        backend = make_backend(config.backend, config.model, **config.backend_options, **backend_key)
    result = asyncio.run(run_async(config, backend=backend, progress=not args.no_progress))
    s = result.summary
    if args.json:
        print(json.dumps(s))
    else:
        print_table(f"{s['task']} · {s['model']} · N={s['n']} · {s['problems']} problems",
                    ["method", "accuracy", "± s.e.", "samples", "tokens/problem"],
                    [[r["method"], r["accuracy"], r["accuracy_se"], f"{r['mean_samples']:g}", f"{r['mean_tokens']:.1f}"]
                     for r in s["rows"]])
        print(f"samples generated: {s['samples_generated']} (in store: {s['samples_in_store']}), "
              f"wall time {s['wall_time']:.1f} s")
        short = min((r["problems"] for r in s["rows"] if r["method"].startswith(("pass@", "maj@"))),
                    default=s["problems"])
        if short < s["problems"]:  # a budget or an upstream failure left some problems short
            print(f"note: pass@1 and maj@k cover the {short} of {s['problems']} problems that have all "
                  f"{s['n']} samples (the rest ran out of budget or failed); see summary.json")
    print(result.run_dir)
    return 0
