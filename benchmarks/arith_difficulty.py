"""Accuracy of the embedded model on `arith` at difficulty 1, 2 and 3 (same run, same model).

    python benchmarks/arith_difficulty.py [--problems 20] [--samples 4]

Prints a markdown table: greedy accuracy, sampled pass@1 and maj@N per difficulty, and the
ratio of each level's greedy accuracy to level 1's. The point: the difficulty knob must
move accuracy measurably on the real model (issue 7's acceptance item).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from ttscale.config import RunConfig
from ttscale.runner import make_backend, run_async


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=20)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--levels", default="1,2,3")
    args = ap.parse_args()
    backend = make_backend("hf")
    rows = []
    try:
        for level in [int(x) for x in args.levels.split(",")]:
            with tempfile.TemporaryDirectory() as out:
                cfg = RunConfig.build(task="arith", task_options={"difficulty": level, "n": args.problems},
                                      n=args.samples, out_dir=out, seed=0)
                t0 = time.monotonic()
                res = await run_async(cfg, backend=backend)
                by = {r["method"]: r for r in res.summary["rows"]}
                rows.append((level, by["greedy"]["accuracy"], by["greedy"]["accuracy_se"],
                             by["pass@1 (sampled)"]["accuracy"], by[f"maj@{args.samples}"]["accuracy"],
                             time.monotonic() - t0))
    finally:
        await backend.aclose()
    base = rows[0][1] or float("nan")
    print(f"arith on {backend.model}: {args.problems} problems per level, N={args.samples}, seed 0\n")
    print("| difficulty | greedy acc | ± s.e. | pass@1 (T=1) | maj@N | greedy / level-1 | wall s |")
    print("|---|---|---|---|---|---|---|")
    for level, g, se, p1, maj, wall in rows:
        print(f"| {level} | {g:.3f} | {se:.3f} | {p1:.3f} | {maj:.3f} | {g / base:.2f} | {wall:.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
