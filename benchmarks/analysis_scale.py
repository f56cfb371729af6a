"""analysis_scale: time to compute every accuracy-vs-compute curve of a synthetic
1,000-problem × 64-sample bank, 6 strategies × 7 budgets, against a naive baseline.

Ours: ``ttscale.analysis.curves.compute_curves`` — exact closed forms (sc, bon), vectorised
rules confirmed against the strategies' own code (weighted, beta, esc, dirichlet).
Baseline (measured in the same run): the async ``Engine`` + ``ReplaySource`` path, one
decision at a time, on a subset of problems and orderings, extrapolated linearly to the
full workload. Goal: ours ≤ 10 s on this machine (2 shared CPU cores).

    python benchmarks/analysis_scale.py [--problems 1000] [--samples 64] [--orderings 10]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from ttscale.analysis.curves import compute_curves
from ttscale.analysis.synthetic import synthetic_bank
from ttscale.backends.replay import ReplaySource
from ttscale.config import Budget
from ttscale.engine import Engine
from ttscale.runner import make_strategy

STRATEGIES = [("sc", {}), ("bon", {"scorer": "logprob"}), ("weighted", {"weight": "logprob"}),
              ("beta", {}), ("esc", {}), ("dirichlet", {})]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--orderings", type=int, default=10)
    ap.add_argument("--baseline-problems", type=int, default=25)
    args = ap.parse_args()

    t0 = time.perf_counter()
    data = synthetic_bank(args.problems, args.samples, seed=0)
    t_build = time.perf_counter() - t0

    t0 = time.perf_counter()
    points = compute_curves(data, STRATEGIES, BUDGETS, orderings_count=args.orderings, seed=0)
    t_ours = time.perf_counter() - t0

    t_base_sub, runs = baseline_seconds(data, args.orderings, args.baseline_problems, 1)
    full_runs = len(STRATEGIES) * len(BUDGETS) * args.problems * args.orderings
    t_base = t_base_sub * full_runs / runs

    print(f"## analysis_scale\n")
    print(f"Synthetic bank {args.problems} problems × {args.samples} samples (built in {t_build:.1f} s, "
          f"not timed); {len(STRATEGIES)} strategies × {len(BUDGETS)} budgets; {args.orderings} seeded "
          f"orderings for replayed strategies (closed forms are exact). Baseline: async Engine + "
          f"ReplaySource, {runs} decisions measured in this run, extrapolated linearly to "
          f"{full_runs} decisions.\n")
    print("| what | seconds | ratio vs baseline |")
    print("|---|---:|---:|")
    print(f"| baseline Engine+ReplaySource (extrapolated) | {t_base:.1f} | 1.0 |")
    print(f"| compute_curves (all 42 points) | {t_ours:.2f} | {t_base / t_ours:.0f}× faster |")
    print(f"\ngoal ≤ 10 s: {'met' if t_ours <= 10 else 'NOT met'} ({t_ours:.2f} s)\n")
    print("| strategy | method | acc@1 | acc@8 | acc@64 | samples@64 | tokens@64 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, _ in STRATEGIES:
        ps = {p.budget: p for p in points if p.strategy == name}
        print(f"| {ps[64].spec} | {ps[64].method} | {ps[1].accuracy:.4f} | {ps[8].accuracy:.4f} | "
              f"{ps[64].accuracy:.4f} | {ps[64].means['samples']:.1f} | {ps[64].means['tokens']:.0f} |")


if __name__ == "__main__":
    main()
