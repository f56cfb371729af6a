"""analysis_scale: time to compute every accuracy-vs-compute curve of a synthetic
1,000-problem × 64-sample bank, 6 strategies × 7 budgets, against a naive baseline.

Ours: ``ttscale.analysis.curves.compute_curves`` — exact closed forms (sc, bon), vectorised
rules confirmed against the strategies' own code (weighted, beta, esc).
Baseline (measured in the same run): the async ``Engine`` + ``ReplaySource`` path, one
decision at a time, on a subset of problems and orderings, extrapolated linearly to the
full workload. Goal: ours ≤ 10 s on this machine (2 shared CPU cores).

    python benchmarks/analysis_scale.py [--problems 1000] [--samples 64] [--orderings 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from pathlib import Path

from ttscale.analysis.curves import compute_curves
from ttscale.analysis.simulate import ProblemContext, replay_one, strategy_at
from ttscale.analysis.synthetic import synthetic_bank
from ttscale.backends.replay import ReplaySource
from ttscale.config import Budget
from ttscale.engine import Engine
from ttscale.runner import make_strategy

STRATEGIES = [("sc", {}), ("bon", {"scorer": "logprob"}), ("bon", {"scorer": "self_certainty"}),
              ("weighted", {"weight": "logprob"}), ("beta", {}), ("esc", {})]
BUDGETS = [1, 2, 4, 8, 16, 32, 64]


def baseline_seconds(data, orderings: int, problems: int, sub_orderings: int) -> tuple[float, int]:
    """Engine + ReplaySource on ``problems`` × ``sub_orderings``, every strategy and budget."""
    sub = data.problems[:problems]
    runs = 0
    t0 = time.perf_counter()
    for name, params in STRATEGIES:
        key = "n" if name in ("sc", "bon", "weighted") else "max_samples"
        for b in BUDGETS:
            strat = make_strategy(name, **params, **{key: b})
            for o in range(sub_orderings):
                engine = Engine(data.task, ReplaySource(data.bank, data.verdicts, ordering=o, seed=0),
                                budget=Budget(max_samples=b))
                asyncio.run(engine.run(sub, strat))
                runs += len(sub)
    return time.perf_counter() - t0, runs


def lean_seconds(data, problems: int) -> tuple[float, int]:
    """Our generic path without closed forms or vectorised rules: replay_one per decision."""
    from ttscale.backends.replay import ReplaySource
    sub = data.problems[:problems]
    ctxs = [ProblemContext(data.task, p, data.bank) for p in sub]
    src = ReplaySource(data.bank, data.verdicts, ordering=0, seed=0)
    runs = 0
    t0 = time.perf_counter()
    for name, params in STRATEGIES:
        for b in BUDGETS:
            strat, _ = strategy_at(name, params, b)
            for ctx in ctxs:
                replay_one(ctx, strat, src, Budget(max_samples=b), 0)
                runs += 1
    return time.perf_counter() - t0, runs


def write_section(text: str) -> None:
    """Replace (or append) this benchmark's section of benchmarks/RESULTS.md."""
    path = Path(__file__).with_name("RESULTS.md")
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(r"^## analysis_scale\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text.rstrip() + "\n\n", old) if pattern.search(old) else \
        old.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--orderings", type=int, default=10)
    ap.add_argument("--baseline-problems", type=int, default=10)
    ap.add_argument("--write", action="store_true", help="update the section in benchmarks/RESULTS.md")
    args = ap.parse_args()
    load = os.getloadavg()[0]

    t0 = time.perf_counter()
    data = synthetic_bank(args.problems, args.samples, seed=0)
    t_build = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    points = compute_curves(data, STRATEGIES, BUDGETS, orderings_count=args.orderings, seed=0)
    t_ours, cpu_ours = time.perf_counter() - t0, time.process_time() - c0

    t_base_sub, runs = baseline_seconds(data, args.orderings, args.baseline_problems, 1)
    t_lean_sub, lean_runs = lean_seconds(data, args.baseline_problems * 2)
    full_runs = len(STRATEGIES) * len(BUDGETS) * args.problems * args.orderings
    t_base = t_base_sub * full_runs / runs
    t_lean = t_lean_sub * full_runs / lean_runs

    out = ["## analysis_scale", "",
           f"`python benchmarks/analysis_scale.py --orderings {args.orderings}`. Synthetic bank "
           f"{args.problems} problems × {args.samples} samples (built in {t_build:.1f} s, not timed); "
           f"{len(STRATEGIES)} strategies ({', '.join(n + (':' + ','.join(f'{k}={v}' for k, v in p.items()) if p else '') for n, p in STRATEGIES)}) "
           f"× {len(BUDGETS)} budgets ({','.join(map(str, BUDGETS))}); {args.orderings} seeded orderings for "
           f"strategies evaluated over orderings (closed forms are exact). Baselines measured in the same "
           f"run on a subset and extrapolated linearly to {full_runs} decisions: the async Engine + "
           f"ReplaySource ({runs} decisions) and our own lean per-decision loop `replay_one` "
           f"({lean_runs} decisions). Machine: 2 CPU cores shared with other jobs, load average "
           f"{load:.1f} at the start.", "",
           "| what | seconds | ratio vs Engine baseline |", "|---|---:|---:|",
           f"| Engine + ReplaySource, one decision at a time (extrapolated) | {t_base:.1f} | 1.0× |",
           f"| `replay_one` lean loop, one decision at a time (extrapolated) | {t_lean:.1f} | {t_base / t_lean:.1f}× |",
           f"| `compute_curves`: all {len(points)} points | {t_ours:.2f} | {t_base / t_ours:.0f}× |", "",
           f"Goal ≤ 10 s: {'met' if t_ours <= 10 else 'not met'} in wall time ({t_ours:.2f} s at load "
           f"{load:.1f}); the process used {cpu_ours:.2f} CPU-seconds, i.e. "
           f"{'within' if cpu_ours <= 10 else 'above'} 10 s on one uncontended core.", "",
           "| strategy | method | acc@1 | acc@8 | acc@64 | samples@64 | tokens@64 |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, params in STRATEGIES:
        ps = {p.budget: p for p in points if p.strategy == name and all(p.params[k] == v for k, v in params.items())}
        out.append(f"| {ps[64].spec or name} | {ps[64].method} | {ps[1].accuracy:.4f} | {ps[8].accuracy:.4f} | "
                   f"{ps[64].accuracy:.4f} | {ps[64].means['samples']:.1f} | {ps[64].means['tokens']:.0f} |")
    text = "\n".join(out) + "\n"
    print(text)
    if args.write:
        write_section(text)

if __name__ == "__main__":
    main()
