"""Exact estimators of test-time-scaling accuracy from a bank of n samples per problem.

All estimators are expectations over *uniformly random* k-subsets (or orderings) of the
stored samples — never the first k — computed in closed form where one exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

__all__ = ["pass_at_k", "maj_at_k", "class_counts"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k: 1 − C(n−c, k)/C(n, k), computed as a stable product."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def class_counts(answers: Sequence[str | None], correct: Sequence[bool]) -> tuple[list[int], list[bool], int]:
    """Group already-canonical answers: (count per class, is-correct per class, #no-answer)."""
    counts: dict[str, int] = {}
    corr: dict[str, bool] = {}
    none = 0
    for a, ok in zip(answers, correct, strict=True):
        if a is None:
            none += 1
            continue
        counts[a] = counts.get(a, 0) + 1
        corr[a] = corr.get(a, False) or bool(ok)
    keys = list(counts)
    return [counts[a] for a in keys], [corr[a] for a in keys], none


def maj_at_k(counts: Sequence[int], correct: Sequence[bool], k: int, no_answer: int = 0) -> float:
    """Exact expected accuracy of majority vote over a uniformly random k-subset.

    ``counts[i]`` samples gave answer class i (``correct[i]`` says whether it is right);
    ``no_answer`` samples gave nothing and do not vote. Ties split credit equally among the
    tied classes. Computed by dynamic programming over classes (for each count j of a
    correct class, count the subsets in which every other class has ≤ j picks, tracking how
    many tie at j), so it is exact for any n without enumerating subsets.
    """
    n = sum(counts) + no_answer
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    total = comb(n, k)
    credit = 0.0
    for c_idx, ok in enumerate(correct):
        if not ok:
            continue
        others = [c for i, c in enumerate(counts) if i != c_idx]
        for j in range(1, min(counts[c_idx], k) + 1):
            ways_c = comb(counts[c_idx], j)
            rest = k - j
            # dp[t][m]: ways to pick t samples from the classes so far, m of them tied at j
            dp = [[0] * (len(others) + 1) for _ in range(rest + 1)]
            dp[0][0] = 1
            for c in others:
                new = [[0] * (len(others) + 1) for _ in range(rest + 1)]
                for t in range(rest + 1):
                    for m in range(len(others) + 1):
                        w = dp[t][m]
                        if not w:
                            continue
                        for x in range(0, min(c, j, rest - t) + 1):
                            new[t + x][m + (x == j)] += w * comb(c, x)
                dp = new
            for t in range(rest + 1):
                ways_none = comb(no_answer, rest - t) if rest - t <= no_answer else 0
                if not ways_none:
                    continue
                for m in range(len(others) + 1):
                    if dp[t][m]:
                        credit += ways_c * dp[t][m] * ways_none / (m + 1)
    return credit / total
