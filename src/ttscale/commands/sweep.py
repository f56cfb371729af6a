"""``ttscale sweep``: draw N_max samples per problem once (or reuse a bank), then replay every
strategy at every budget over seeded orderings — no model calls after the draw — and print
accuracy against compute.

    ttscale sweep --task facts --limit 20 -n 16                 # draw a bank, then sweep it
    ttscale sweep --bank RUN_DIR_OR_NAME --strategy sc --strategy beta:threshold=0.9 \\
                  --budgets 1,2,4,8,16 --orderings 50 --x-axis flops --json

Budgets: for vote/select strategies (sc, weighted, bon, rpc, borda, ...) the budget is the
sample count n; for adaptive strategies (beta, esc, dirichlet, bayes, voi) it is their cap
``max_samples``; greedy/single give one point. Every replayed decision is stored in the run
directory under ``sweep/<strategy label>@<budget>``; ``sweep.json`` holds the points and
the settings; ``ttscale report RUN_DIR`` draws them.

``--json`` prints one object per line per strategy × budget (design.md's contract):
{"strategy", "params", "budget", "accuracy", "accuracy_se", "mean_samples", "mean_tokens",
"mean_cost", "orderings", "problems"}; ``accuracy`` is a fraction in [0, 1] and
``accuracy_se`` the Monte-Carlo standard error over orderings (0 for exact closed forms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .common import parse_kv, print_table


def add_parser(sub: Any, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("sweep", help=help_text, description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("the bank: draw one (--task ... -n N) or reuse one (--bank)")
    src.add_argument("--bank", default=None, metavar="RUN_DIR_OR_NAME",
                     help="reuse a bank: a run directory or a named bank (ttscale bank list)")
    src.add_argument("--task", default="facts", help="registered task name (when drawing)")
    src.add_argument("--task-option", action="append", metavar="KEY=VALUE", help="task option (repeatable)")
    src.add_argument("--limit", type=int, default=None, help="use the first LIMIT problems (default 20 for facts)")
    src.add_argument("--backend", default="hf", help="backend to draw with (hf, openai, mock, vllm)")
    src.add_argument("--model", default=None, help="model for the backend")
    src.add_argument("--backend-option", action="append", metavar="KEY=VALUE", help="backend option (repeatable)")
    src.add_argument("-n", "--samples", type=int, default=16, dest="n", help="N_max: samples drawn per problem")
    src.add_argument("--temperature", type=float, default=1.0)
    src.add_argument("--max-tokens", type=int, default=None, help="tokens per sample (task default if unset)")
    src.add_argument("--concurrency", type=int, default=4)
    src.add_argument("--greedy", action="store_true", help="also draw the greedy baseline (strategy greedy)")
    src.add_argument("--out", default=None, help="run directory (default runs/<time>-sweep-<task>; with --bank: "
                     "a copy of the bank is swept there instead of the bank itself)")
    what = p.add_argument_group("what to replay")
    what.add_argument("--strategy", action="append", metavar="NAME[:k=v,...]",
                      help="strategy spec without its budget parameter (repeatable); default: "
                           "sc, bon:scorer=logprob, weighted:weight=logprob, beta, esc, bayes")
    what.add_argument("--budgets", default=None, help="comma-separated budgets (default 1,2,4,... up to N_max)")
    what.add_argument("--orderings", type=int, default=50, help="seeded orderings of each bank")
    what.add_argument("--store-orderings", type=int, default=None,
                      help="store the decisions of the first K orderings (default: all)")
    what.add_argument("--seed", type=int, default=0, help="seed of the orderings (and of drawing)")
    cost = p.add_argument_group("compute accounting")
    cost.add_argument("--x-axis", default="tokens",
                      help="samples, tokens, total_tokens, flops, cost, pte or wall_time")
    cost.add_argument("--prices", default=None, metavar="FILE", help="price table (JSON or TOML), see analysis/cost.py")
    cost.add_argument("--decode-ratio", type=float, default=None,
                      help="cost of a decoded token in prefill tokens (for --x-axis pte)")
    p.add_argument("--json", action="store_true", help="one JSON object per strategy × budget, nothing else")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    return p


def _budgets(text: str | None, n_max: int) -> list[int]:
    if text is None:
        out, b = [], 1
        while b < n_max:
            out.append(b)
            b *= 2
        return out + [n_max]
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError("budgets", f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise ConfigError("budgets", f"need positive integers, got {text!r}")
    return sorted(set(values))


def _draw(args: argparse.Namespace) -> Path:
    """Draw N_max samples per problem into a run directory through the runner (strategy sc:n=N)."""
    from ..config import RunConfig, SamplingConfig
    from ..runner import run_async

    if args.n < 1:
        raise ConfigError("n", f"must be >= 1 (got {args.n})")
    limit = args.limit if args.limit is not None else (20 if args.task == "facts" else None)
    out = args.out or str(Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-sweep-{args.task}")
    sampling = SamplingConfig.build(temperature=args.temperature, max_tokens=args.max_tokens)
    config = RunConfig.build(task=args.task, task_options=parse_kv(args.task_option, "--task-option"), limit=limit,
                             backend=args.backend, model=args.model,
                             backend_options=parse_kv(args.backend_option, "--backend-option"), n=args.n,
                             strategy="sc", greedy=args.greedy, sampling=sampling.model_dump(exclude_unset=True),
                             seed=args.seed, concurrency=args.concurrency, out_dir=out)
    result = asyncio.run(run_async(config, progress=not (args.no_progress or args.json)))
    return result.run_dir


def _bank_dir(args: argparse.Namespace) -> Path:
    from ..banks import resolve_bank
    from ..store import STORE_FILENAME

    path = resolve_bank(args.bank)
    if not args.out:
        return path
    out = Path(args.out)
    if out.resolve() == path.resolve():
        return path
    if (out / STORE_FILENAME).exists():
        raise ConfigError("out", f"{out} already holds a sample store; choose an empty directory")
    out.mkdir(parents=True, exist_ok=True)
    import sqlite3
    src = sqlite3.connect(f"file:{path / STORE_FILENAME}?mode=ro", uri=True)
    dst = sqlite3.connect(out / STORE_FILENAME)
    try:  # the backup API copies a consistent snapshot, WAL pages included
        src.backup(dst)
    except sqlite3.DatabaseError as exc:
        from ..errors import StoreError
        raise StoreError(f"cannot copy the bank {path}: {exc}") from None
    finally:
        dst.close()
        src.close()
    if (path / "config.json").exists():
        shutil.copy2(path / "config.json", out / "config.json")
    return out


def signal_gaps(specs: list[tuple[str, dict[str, Any]]], data: Any) -> list[str]:
    """One line per strategy that scores by a signal no sample of the bank carries: every
    score then ties and the strategy silently becomes a plain vote, which a user should hear."""
    from ..runner import make_strategy
    from ..strategies.base import View
    from ..strategies.signals import BUILTIN_SIGNALS, raw_signal, scorer_parts

    samples = [s for streams in data.bank.values() for ss in streams.values() for s in ss]
    view = View(samples=[])  # built-in signals read the sample alone
    missing = {name for name in BUILTIN_SIGNALS if all(raw_signal(view, s, name) is None for s in samples)}
    notes = []
    for name, params in specs:
        strategy = make_strategy(name, **params)
        for key, value in strategy.param_dict.items():
            if not isinstance(value, str):
                continue
            for part in scorer_parts(value):
                if part in missing:
                    notes.append(f"note: {strategy.label} uses {key}={part}, but no sample in this bank has "
                                 f"{part} (an imported bank without log-probs?): every score ties, so it "
                                 "decides like a plain vote")
    return notes


def main(args: argparse.Namespace) -> int:
    from ..analysis.cost import AXES, CostModel, load_price_table
    from ..analysis.curves import DEFAULT_STRATEGIES, compute_curves, write_sweep
    from ..analysis.simulate import BankData
    from ..runner import parse_strategy_spec
    from ..store import Store

    if args.x_axis not in AXES:
        raise ConfigError("x-axis", f"unknown axis {args.x_axis!r}; choose one of {', '.join(AXES)}")
    if args.orderings < 1:
        raise ConfigError("orderings", f"must be >= 1 (got {args.orderings})")
    specs = [parse_strategy_spec(s) for s in (args.strategy or DEFAULT_STRATEGIES)]
    from ..registry import strategies
    for name, _ in specs:
        strategies.get(name)  # unknown names fail before any drawing
    table = load_price_table(args.prices)
    run_dir = _bank_dir(args) if args.bank else _draw(args)
    data = BankData.load(run_dir)
    budgets = _budgets(args.budgets, data.max_samples)
    dropped = [b for b in budgets if b > data.max_samples]
    cost_model = CostModel.for_model(data.model, table, decode_ratio=args.decode_ratio)
    quiet = args.json or args.no_progress
    for line in signal_gaps(specs, data):
        print(line, file=sys.stderr)

    def progress(pt: Any) -> None:
        if not quiet:
            print(f"  {pt.spec or pt.strategy} @ {pt.budget}: accuracy {pt.accuracy:.4f} ({pt.method})",
                  file=sys.stderr)

    t0 = time.monotonic()
    with Store(run_dir) as store:
        points = compute_curves(data, specs, budgets, orderings_count=args.orderings, seed=args.seed,
                                cost_model=cost_model, store=store, store_orderings=args.store_orderings,
                                progress=progress)
    settings = {"bank": str(run_dir), "strategies": [s for s in (args.strategy or DEFAULT_STRATEGIES)],
                "budgets": budgets, "dropped_budgets": dropped, "orderings": args.orderings, "seed": args.seed,
                "store_orderings": args.store_orderings, "x_axis": args.x_axis, "prices": args.prices,
                "cost_model": cost_model.describe(), "problems": len(data.problems), "model": data.model,
                "seconds": round(time.monotonic() - t0, 3)}
    write_sweep(run_dir, points, settings)
    if args.json:
        for p in points:
            print(json.dumps(p.contract()))
        return 0
    if dropped:
        print(f"budgets above the bank's {data.max_samples} samples per problem were dropped: {dropped}",
              file=sys.stderr)
    unit = AXES[args.x_axis][1]
    print_table(f"sweep · {len(data.problems)} problems · {args.orderings} orderings · {data.model or '?'}",
                ["strategy", "budget", "acc", "±se", "±se prob", "samples", "tokens", f"{args.x_axis} ({unit})",
                 "method"],
                [[p.spec or p.strategy, p.budget, p.accuracy, p.accuracy_se, p.problem_se,
                  round(p.x("samples"), 2), round(p.x("tokens"), 1), p.x(args.x_axis), p.method] for p in points])
    print(run_dir)
    return 0
