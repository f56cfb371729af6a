"""What can a stopping rule that sees only vote counts reach, if it even knows the bank's prior?

``sample_efficiency.py`` asks our rule for ≤ 0.75× the samples of the cheapest beta/esc/bayes
setting that reaches SC@40 − 0.15 points. On banks that carry only answers (no log-probs, no
path signal) every rule decides from the vote counts (under i.i.d. draws the counts are
sufficient; their order says nothing more). This script builds the *oracle count rule*: the
Bayes rule fitted to the planted bank's true generator, which no real rule can know.

1. Simulate ``--prior-problems`` problems from the bank's own generator (another seed), 40
   draws each, and tabulate for every vote state s = (leader's votes A, runner-up's votes B,
   the other draws R — other answers and no-answers —, distinct answers K, capped at 4)
   P(leader is correct | s) and P(next state | s).
2. Backward induction from the cap gives, for a price λ per sample, the rule on s that
   maximises expected accuracy − λ · samples under that prior.
3. Each rule runs on the bank through the same replay as every rule in sample_efficiency
   (same orderings, accuracy paired with SC@40 on them), for a sweep of λ.

It is an oracle, not a proof: the tables are estimates (splitting the no-answer draws out of
R made them sparse enough that the fitted rule got worse, so they stay pooled), and s drops
how the other answers split. Its frontier says how much room a count rule has on each bank:
if even it needs about the cheapest baseline's samples at the target, a rule of ours that
knows no prior cannot need 0.75× of them from counts alone. The banks are the planted ones
without a path signal: ``synthetic-flat``, ``synthetic-hard`` and ``synthetic-hosted``.

Run: ``python benchmarks/count_rule_oracle.py [--orderings 50] [--prior-problems 200000] [--jobs 2] [--write]``
(about 3 minutes here with ``--jobs 2``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sample_efficiency as se  # noqa: E402

from ttscale.strategies.adaptive import AdaptiveParams, _Adaptive, class_tally  # noqa: E402
from ttscale.strategies.base import View  # noqa: E402
from ttscale.types import Sample  # noqa: E402

CAP = se.CAP
KMAX = 4
COLS = 8  # answer classes a planted problem can have (c + up to 6 distractors), + one for "no answer"
PRICES = (0.01, 0.006, 0.004, 0.003, 0.0025, 0.002, 0.0015, 0.001, 0.0007, 0.0005)
GENERATORS: dict[str, tuple[Callable[[random.Random], dict[str, float]], int]] = {
    "synthetic-flat": (lambda rng: se.synthetic_shares(rng, hard=0.2), 2),
    "synthetic-hard": (lambda rng: se.synthetic_shares(rng, hard=0.5), 3),
    "synthetic-hosted": (se.hosted_shares, 4),
}
Code = int


def encode(a: int, b: int, r: int, k: int) -> Code:
    """State code: leader's votes, runner-up's votes, other draws (other answers and no-answers),
    distinct answers (already capped at KMAX). Works on numpy arrays too."""
    return ((a * (CAP + 1) + b) * (CAP + 1) + r) * (KMAX + 1) + k


def decode(code: Code) -> tuple[int, int, int, int]:
    code, k = divmod(code, KMAX + 1)
    code, r = divmod(code, CAP + 1)
    a, b = divmod(code, CAP + 1)
    return a, b, r, k


def tabulate(shares: Callable[[random.Random], dict[str, float]], problems: int, seed: int,
             chunk: int = 20_000) -> tuple[dict[Code, tuple[int, int]], dict[Code, dict[Code, int]]]:
    """(hits, visits) per state and next-state counts, from ``problems`` simulated problems."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    hits: dict[Code, int] = {}
    visits: dict[Code, int] = {}
    trans: dict[Code, dict[Code, int]] = {}
    for start in range(0, problems, chunk):
        m = min(chunk, problems - start)
        probs = np.zeros((m, COLS))
        for i in range(m):
            w = [v * (1 - se.NO_ANSWER) for v in shares(rng).values()]
            probs[i, :len(w)] = w
            probs[i, -1] = se.NO_ANSWER
        cum = probs.cumsum(axis=1)
        draws = (nrng.random((m, CAP, 1)) > cum[:, None, :]).sum(axis=2).clip(max=COLS - 1)
        counts = np.zeros((m, COLS - 1), dtype=np.int64)
        first = np.full((m, COLS - 1), CAP, dtype=np.int64)
        rows = np.arange(m)
        prev = None
        for j in range(CAP):
            d = draws[:, j]
            ans = d < COLS - 1
            counts[rows[ans], d[ans]] += 1
            first[rows[ans], d[ans]] = np.minimum(first[rows[ans], d[ans]], j)
            key = counts * (CAP + 1) - first  # most votes; ties: first seen (as vote() does)
            leader = key.argmax(axis=1)
            a = counts[rows, leader]
            rest = counts.copy()
            rest[rows, leader] = -1
            b = rest.max(axis=1).clip(min=0)
            k = (counts > 0).sum(axis=1)
            code = encode(a, b, j + 1 - a - b, np.minimum(k, KMAX))
            ok = (leader == 0) & (a > 0)
            uc, inv = np.unique(code, return_inverse=True)
            for c, h, v in zip(uc.tolist(), np.bincount(inv, weights=ok).tolist(), np.bincount(inv).tolist(),
                               strict=True):
                hits[c] = hits.get(c, 0) + int(h)
                visits[c] = visits.get(c, 0) + int(v)
            if prev is not None:
                pairs, n = np.unique(prev * 10**9 + code, return_counts=True)
                for pc, cnt in zip(pairs.tolist(), n.tolist(), strict=True):
                    src, dst = divmod(pc, 10**9)
                    row = trans.setdefault(src, {})
                    row[dst] = row.get(dst, 0) + cnt
            prev = code
    return {c: (hits[c], visits[c]) for c in visits}, trans


def policy(stats: dict[Code, tuple[int, int]], trans: dict[Code, dict[Code, int]], price: float) -> frozenset[Code]:
    """The states where stopping is optimal: backward induction on accuracy − price × samples."""
    def p_right(c: Code) -> float:
        h, v = stats.get(c, (0, 0))
        return (h + 0.5) / (v + 1)

    by_n: dict[int, list[Code]] = {}
    for c in stats:
        a, b, r, _ = decode(c)
        by_n.setdefault(a + b + r, []).append(c)
    value: dict[Code, float] = {}
    stop: set[Code] = set()
    for n in range(CAP, 0, -1):
        for c in by_n.get(n, []):
            now = p_right(c) if decode(c)[0] > 0 else 0.0
            nxt = trans.get(c)
            if n == CAP or not nxt:
                value[c] = now
                stop.add(c)
                continue
            tot = sum(nxt.values())
            go_on = -price + sum(v * value.get(d, p_right(d)) for d, v in nxt.items()) / tot
            value[c] = max(now, go_on)
            if now >= go_on:
                stop.add(c)
    return frozenset(stop)


class TablePolicy(_Adaptive):
    """Stop exactly in the tabulated states (the Bayes rule on s fitted to the planted prior)."""

    name = "oracle"
    Params = AdaptiveParams

    def __init__(self, stop: frozenset[Code], price: float) -> None:
        super().__init__()
        self.stop, self.price = stop, price

    @property
    def label(self) -> str:
        return f"oracle:price={self.price}"

    def confidence(self, view: View, samples: list[Sample]) -> tuple[bool, float]:
        c = class_tally(view, samples)
        if not c:
            return False, 0.0
        a, b = int(c[0]), int(c[1]) if len(c) > 1 else 0
        return encode(a, b, len(samples) - a - b, min(len(c), KMAX)) in self.stop, c[0] / sum(c)


def measure(name: str, orderings: int, prior_problems: int) -> str:
    shares, seed = GENERATORS[name]
    t0 = time.monotonic()
    stats, trans = tabulate(shares, prior_problems, seed=10_000 + seed)
    bank = se.BANKS[name][0]()
    rows = [se.evaluate(s, bank, orderings) for fam in ("sc", *se.BASELINES) for s in se.SWEEPS[fam]]
    rows += [se.evaluate(s, bank, orderings) for s in (se.DEFAULTS["voi"], "voi:signal=none")]
    rows += [se.evaluate(TablePolicy(policy(stats, trans, lam), lam), bank, orderings) for lam in PRICES]
    sc = rows[0]
    best_base = se.cheapest_at_target(rows, se.BASELINES, sc)
    oracle = se.cheapest_at_target(rows, ("oracle",), sc)
    lines = [f"### {name}", "", f"Prior: {prior_problems} simulated problems from the bank's generator; "
             f"{len(stats)} vote states. {len(bank)} problems, {orderings} orderings.", "",
             "| rule | setting | Δ vs SC@40, points (paired) | mean samples |", "|---|---|---|---|"]
    rows.sort(key=lambda r: (r.family != "sc", r.family == "oracle", r.family == "voi"))
    for r in rows:
        if r.family in ("sc", "oracle", "voi") or r is best_base:
            d, dse = r.delta(sc)
            star = " (default)" if r.spec == se.DEFAULTS["voi"] else ""
            lines.append(f"| {r.family} | {r.spec.partition(':')[2] or 'defaults'}{star} | {d / se.POINT:+.2f} ± {dse / se.POINT:.2f} "
                         f"| {r.samples:.2f} |")
    lines.append("")
    if best_base and oracle:
        lines.append(f"- cheapest baseline at target: `{best_base.spec}` {best_base.samples:.2f} samples; "
                     f"the oracle's cheapest point at target: `{oracle.spec}` {oracle.samples:.2f} → "
                     f"**{oracle.samples / best_base.samples:.2f}×** (our rule's goal: ≤ 0.75×)")
    else:
        lines.append(f"- baseline at target: {best_base.spec if best_base else 'none'}; oracle at target: "
                     f"{oracle.spec if oracle else 'none'}")
    print(f"{name}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderings", type=int, default=50)
    ap.add_argument("--prior-problems", type=int, default=200_000, help="simulated problems the tables come from")
    ap.add_argument("--banks", default=",".join(GENERATORS), help=f"comma-separated, from {', '.join(GENERATORS)}")
    ap.add_argument("--jobs", type=int, default=1, help="banks measured in parallel processes")
    ap.add_argument("--write", action="store_true", help="write the tables into benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    names = args.banks.split(",")
    for n in names:
        if n not in GENERATORS:
            ap.error(f"unknown bank {n!r}; choose from {', '.join(GENERATORS)}")
    texts = se.map_banks(measure, [(n, args.orderings, args.prior_problems) for n in names], args.jobs)
    body = "\n".join(texts)
    print(body)
    if args.write:
        se.write_section("count_rule_oracle", "Measured in one run by `python benchmarks/count_rule_oracle.py`. "
                         "The oracle count rule — the Bayes stopping rule on the vote state, fitted to each "
                         "planted bank's true prior (see the script's docstring) — against the cheapest "
                         "baseline setting reaching SC@40 − 0.15 points.\n\n" + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
