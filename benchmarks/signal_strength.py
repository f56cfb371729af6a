"""How hard should ``voi`` lean on a per-sample signal? The default ``signal_strength``, measured.

``voi`` weights its stopping tally by each sample's mean log-prob, z-scored within the problem,
with weights in 1 ± ``signal_strength`` (the answer stays the plain majority). This script runs
it at several strengths on

- banks whose log-probs carry a signal: ``facts`` (real), the benchmark's ``synthetic+signal``,
  ``synthetic-weak`` and ``synthetic-hosted-weak``, and the six ``extra-*`` planted banks
  that sample_efficiency leaves out of its default run (other seeds, right paths 0.3–1.0 s.d.
  likelier);
- banks whose log-probs are decoys (drawn alike for right and wrong paths): the benchmark's
  ``synthetic-flat``, ``synthetic-hard``, ``synthetic-hosted`` and one more planted bank;

and prints, per bank, accuracy paired with SC@40 on the same orderings (points) and mean
samples, then the mean over each group.

Run: ``python benchmarks/signal_strength.py [--orderings 30] [--jobs 2] [--write]`` (about 4
minutes here with ``--jobs 2``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sample_efficiency as se  # noqa: E402

STRENGTHS = (0.25, 0.4, 0.5, 0.65, 0.8)
SIGNAL = ["facts", "synthetic+signal", "synthetic-weak", "synthetic-hosted-weak", *se.EXTRA_BANKS]
DECOY = ["synthetic-flat", "synthetic-hard", "synthetic-hosted", "hosted-8 (decoy)"]


def build(name: str) -> list[se.Item]:
    if name == "hosted-8 (decoy)":
        return se.hosted_bank(8)
    return se.BANKS[name][0]()


def measure(name: str, orderings: int) -> tuple[str, list[tuple[float, float]]]:
    """(bank, [(Δ points, samples) per strength])."""
    t0 = time.monotonic()
    bank = build(name)
    sc = se.evaluate("sc:n=40", bank, orderings)
    out = []
    for s in STRENGTHS:
        r = se.evaluate(f"voi:signal_strength={s}", bank, orderings)
        out.append((r.delta(sc)[0] / se.POINT, r.samples))
    print(f"{name}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return name, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderings", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=1, help="banks measured in parallel processes")
    ap.add_argument("--write", action="store_true", help="write the table into benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    names = SIGNAL + DECOY
    results = dict(se.map_banks(measure, [(n, args.orderings) for n in names], args.jobs))
    head = " | ".join(f"{s}" for s in STRENGTHS)
    lines = [f"Δ vs SC@40 in points (paired, {args.orderings} orderings) / mean samples, for "
             "`voi:signal_strength=S`; the default is 0.5.", "",
             f"| bank | log-probs | {head} |", "|---|---|" + "---|" * len(STRENGTHS)]
    for group, members in (("signal", SIGNAL), ("decoy", DECOY)):
        for n in members:
            cells = " | ".join(f"{d:+.2f} / {k:.2f}" for d, k in results[n])
            lines.append(f"| {n} | {group} | {cells} |")
        means = [(sum(results[n][i][0] for n in members) / len(members),
                  sum(results[n][i][1] for n in members) / len(members)) for i in range(len(STRENGTHS))]
        lines.append(f"| **mean, {group}** | {len(members)} banks | "
                     + " | ".join(f"**{d:+.2f}** / {k:.2f}" for d, k in means) + " |")
    body = "\n".join(lines) + "\n"
    print(body)
    if args.write:
        se.write_section("signal_strength", "Measured in one run by `python benchmarks/signal_strength.py`.\n\n" + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
