"""Exact estimators of test-time-scaling accuracy from a bank of n samples per problem.

All estimators are expectations over *uniformly random* k-subsets (or orderings) of the
stored samples — never the first k — computed in closed form where one exists:

- ``pass_at_k``: unbiased pass@k (closed form);
- ``maj_at_k`` / ``maj_at_k_curve``: exact majority-vote accuracy, ties split, for every n
  (a vectorised dynamic programme, all budgets at once);
- ``bon_at_k`` / ``bon_at_k_curve``: best-of-k under any scorer (closed form; ties either
  averaged as in methods.md or resolved by majority among the tied, as the ``bon`` strategy
  does);
- ``weighted_maj_at_k``: weighted majority vote has no closed form, so a seeded Monte-Carlo
  over k-subsets with its standard error;
- ``expected_draws_until_correct`` / ``pass_until``: PassUntil;
- ``ece`` / ``brier``: calibration of decision confidences.

Why exact: curves of accuracy against compute are compared point by point, and Monte-Carlo
noise at small budgets is easily mistaken for a real difference between strategies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
from scipy.special import gammaln

__all__ = [
    "Estimate",
    "pass_at_k",
    "maj_at_k",
    "maj_at_k_curve",
    "class_counts",
    "bon_at_k",
    "bon_at_k_curve",
    "weighted_maj_at_k",
    "expected_draws_until_correct",
    "pass_until",
    "ece",
    "brier",
    "mean_se",
]

#: above this many samples per problem binomial coefficients overflow float64, so the DP
#: switches to exact Python integers (slower, still exact)
FLOAT_LIMIT = 1000


@dataclass(frozen=True)
class Estimate:
    """A Monte-Carlo estimate: mean and its standard error (0.0 when exact)."""

    mean: float
    se: float


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample s.d. / √n); s.e. 0 for one value."""
    if len(values) == 0:
        return float("nan"), float("nan")
    arr = np.asarray(values, dtype=float)
    m = float(arr.mean())
    if len(arr) < 2:
        return m, 0.0
    return m, float(arr.std(ddof=1) / math.sqrt(len(arr)))


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
    tied classes. Exact for any n (see :func:`maj_at_k_curve`)."""
    return maj_at_k_curve(counts, correct, [k], no_answer)[0]


def _binom_row(n: int, upto: int, dtype: type) -> np.ndarray:
    """C(n, u) for u = 0..upto (zero beyond n)."""
    row = np.zeros(upto + 1, dtype=dtype)
    for u in range(min(n, upto) + 1):
        row[u] = comb(n, u)
    return row


def maj_at_k_curve(counts: Sequence[int], correct: Sequence[bool], ks: Sequence[int],
                   no_answer: int = 0) -> list[float]:
    """Exact maj@k for every k in ``ks`` at once.

    For each correct class i and each count j of its picks, count the k-subsets in which
    every other class has at most j picks, weighting a subset by 1/(1 + #classes tied at j).
    A dynamic programme over the other classes tracks, for all j at once, the number of
    picks so far (t) and the number of classes tied at j (m): an array dp[j, t, m] updated
    by shifted slices, so the cost is O(Σ_l c_l) numpy operations per correct class and
    every budget comes from the same array. Counts are float64 (exact to 1e-15 relative)
    up to n = 1000 samples, exact Python integers beyond."""
    counts = [int(c) for c in counts]
    if len(counts) != len(correct):
        raise ValueError(f"counts and correct differ in length ({len(counts)} vs {len(correct)})")
    if any(c < 0 for c in counts) or no_answer < 0:
        raise ValueError("counts must be non-negative")
    n = sum(counts) + no_answer
    ks = [int(k) for k in ks]
    for k in ks:
        if not 1 <= k <= n:
            raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if not ks:
        return []
    kmax = max(ks)
    dtype: type = float if n <= FLOAT_LIMIT else object
    credit: list[object] = [0 for _ in ks]
    hnone = _binom_row(no_answer, kmax, dtype)
    for ci, ok in enumerate(correct):
        if not ok or counts[ci] == 0:
            continue
        others = [c for i, c in enumerate(counts) if i != ci and c > 0]
        s_others = sum(others)
        # j above every other class's count: no constraint and no tie, so by Vandermonde the
        # others and the no-answer samples fill the rest in C(s_others + no_answer, k − j) ways
        jcap = min(counts[ci], kmax, max(others, default=0))
        for idx, k in enumerate(ks):
            for j in range(jcap + 1, min(counts[ci], k) + 1):
                credit[idx] += comb(counts[ci], j) * comb(s_others + no_answer, k - j)
        if jcap == 0:
            continue
        tmax = min(kmax - 1, s_others)  # picks the other classes can supply
        mdim = min(len(others), tmax) + 1
        dp = np.zeros((jcap + 1, tmax + 1, mdim), dtype=dtype)
        dp[:, 0, 0] = 1
        for c in others:
            new = np.zeros_like(dp)
            for x in range(0, min(c, jcap, tmax) + 1):
                coef = comb(c, x)
                # classes with fewer than j picks: no tie, any j > x
                new[x + 1:, x:, :] += coef * dp[x + 1:, : tmax + 1 - x, :]
                # exactly j = x picks: one more class tied with the correct one
                if x >= 1 and mdim > 1:
                    new[x, x:, 1:] += coef * dp[x, : tmax + 1 - x, :-1]
            dp = new
        if dtype is float:
            w = dp @ np.array([1.0 / (m + 1) for m in range(mdim)])  # Σ_m dp[j,t,m]/(m+1)
        else:
            from fractions import Fraction
            w = np.zeros(dp.shape[:2], dtype=object)
            for m in range(mdim):
                w = w + dp[:, :, m] * Fraction(1, m + 1)
        # ways for the others and the no-answer samples to fill rest = k − j picks:
        # conv[j, r] = Σ_t w[j, t]·C(no_answer, r − t), one matrix product for every j
        if no_answer:
            r_idx = np.arange(kmax + 1)
            gap = r_idx[None, :] - np.arange(tmax + 1)[:, None]
            toeplitz = np.where(gap >= 0, hnone[np.clip(gap, 0, kmax)], 0)
            conv = w @ toeplitz
        else:
            conv = w
        cj = np.array([comb(counts[ci], j) for j in range(jcap + 1)], dtype=dtype)
        for idx, k in enumerate(ks):
            js = np.arange(1, min(jcap, k) + 1)
            rest = k - js
            keep = rest < conv.shape[1]
            if keep.any():
                credit[idx] += (cj[js[keep]] * conv[js[keep], rest[keep]]).sum()
    if dtype is float:
        return [float(cr / comb(n, k)) for cr, k in zip(credit, ks, strict=True)]  # type: ignore[operator]
    from fractions import Fraction
    return [float(Fraction(cr) / comb(n, k)) for cr, k in zip(credit, ks, strict=True)]  # type: ignore[arg-type]


def bon_at_k(scores: Sequence[float], correct: Sequence[bool], k: int,
             answers: Sequence[str | None] | None = None) -> float:
    """Exact best-of-k accuracy over a uniformly random k-subset (see :func:`bon_at_k_curve`)."""
    return bon_at_k_curve(scores, correct, [k], answers)[0]


def bon_at_k_curve(scores: Sequence[float], correct: Sequence[bool] | Sequence[float], ks: Sequence[int],
                   answers: Sequence[str | None] | None = None) -> list[float]:
    """Exact best-of-k accuracy for each k in ``ks``.

    Without ``answers``: methods.md's closed form, ties averaged (a uniformly random one of
    the tied top samples is picked): Σ_i correct_(i) · C(n−i−1, k−1)/C(n, k) over samples
    sorted by score, with ``correct_(i)`` replaced by its tie group's mean. ``correct`` may
    hold any numbers here: the result is E[value of the best-scored sample] (with
    value = score it is the expected maximum, used for the wall time of a batch).

    With ``answers`` (canonical, None = no answer): the ``bon`` strategy's rule — among the
    tied top-scored samples of the subset the answer most of them share wins (ties split).
    If the best tie group occupies sorted positions a..a+g−1, the subset holds x ≥ 1 of its
    members and none better with probability C(g, x)·C(n−a−g, k−x)/C(n, k), and the x
    members are a uniform x-subset of the group, so its credit is the group's maj@x.
    Give samples that may not be picked (no answer) the lowest score."""
    n = len(scores)
    if len(correct) != n or (answers is not None and len(answers) != n):
        raise ValueError("scores, correct (and answers) must have one entry per sample")
    for k in ks:
        if not 1 <= k <= n:
            raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    sc = np.asarray(scores, dtype=float)
    order = np.argsort(-sc, kind="stable")
    srt = sc[order]
    starts = np.flatnonzero(np.r_[True, srt[1:] != srt[:-1]]) if n else np.zeros(0, dtype=int)
    sizes = np.diff(np.r_[starts, n])
    vals = np.asarray([float(c) for c in correct])[order]
    # value credited when the top-scored sample sits at sorted position i; tie groups whose
    # outcome depends on more than one position (several answer classes under the majority
    # rule) are added separately below
    mixed: list[tuple[int, list[int]]] = []
    if answers is None:
        value = np.repeat(np.add.reduceat(vals, starts) / sizes, sizes) if n else vals
    else:
        ids: dict[str | None, int] = {None: -1}
        lab = np.asarray([ids.setdefault(a, len(ids)) for a in answers], dtype=np.int64)[order]
        lo, hi = np.minimum.reduceat(lab, starts), np.maximum.reduceat(lab, starts)
        single = (lo == hi) & (lo >= 0)
        value = np.where(np.repeat(single, sizes), vals, 0.0)
        for gi in np.flatnonzero(~single & (hi >= 0)):
            a = int(starts[gi])
            mixed.append((a, [int(i) for i in order[a:a + sizes[gi]]]))
    pos = np.arange(n)
    out = []
    for k in ks:
        # P(the best of a random k-subset sits at sorted position i) = C(n−1−i, k−1)/C(n, k)
        ok = n - 1 - pos >= k - 1
        a = (n - 1 - pos)[ok]
        logw = (gammaln(a + 1) - math.lgamma(k) - gammaln(a - k + 2)) - _log_comb(n, k)
        acc = float(np.exp(logw) @ value[ok])
        for start, g in mixed:
            size = len(g)
            below = n - start - size
            cc, corr, none = class_counts([answers[i] for i in g], [bool(correct[i]) for i in g])  # type: ignore[index]
            xs = [x for x in range(1, min(size, k) + 1) if k - x <= below]
            if xs and any(corr):
                majs = maj_at_k_curve(cc, corr, xs, none)
                acc += sum(comb(size, x) * comb(below, k - x) * m
                           for x, m in zip(xs, majs, strict=True)) / comb(n, k)
        out.append(acc)
    return out

def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

def weighted_maj_at_k(classes: Sequence[int], weights: Sequence[float], correct: Sequence[bool],
                      k: int, *, draws: int = 2000, seed: int = 0) -> Estimate:
    """Seeded Monte-Carlo estimate of weighted-majority accuracy over random k-subsets.

    ``classes[i]`` is sample i's answer class (−1: no answer, does not vote), ``weights[i]``
    its vote weight, ``correct[i]`` whether its class is right. Ties split credit. There is
    no closed form for weighted votes, hence the estimate with its standard error."""
    n = len(classes)
    if not (len(weights) == len(correct) == n):
        raise ValueError("classes, weights and correct must have one entry per sample")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if draws < 2:
        raise ValueError("draws must be >= 2")
    cls = np.asarray(classes, dtype=int)
    w = np.asarray(weights, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    ncls = int(cls.max()) + 1 if n and cls.max() >= 0 else 0
    if ncls == 0:
        return Estimate(0.0, 0.0)
    class_ok = np.zeros(ncls, dtype=bool)
    for c, o in zip(cls, ok, strict=True):
        if c >= 0 and o:
            class_ok[c] = True
    rng = np.random.default_rng(seed)
    picks = np.argsort(rng.random((draws, n)), axis=1)[:, :k]  # uniform k-subsets
    totals = np.zeros((draws, ncls))
    pc = cls[picks]
    pw = np.where(pc >= 0, w[picks], 0.0)
    rows = np.repeat(np.arange(draws), k)
    np.add.at(totals, (rows, np.where(pc >= 0, pc, 0).ravel()), pw.ravel())
    voted = np.zeros((draws, ncls), dtype=bool)
    np.logical_or.at(voted, (rows, np.where(pc >= 0, pc, 0).ravel()), (pc >= 0).ravel())
    totals = np.where(voted, totals, -np.inf)
    best = totals.max(axis=1, keepdims=True)
    tied = (totals == best) & voted
    ntied = tied.sum(axis=1)
    score = np.where(ntied > 0, (tied & class_ok).sum(axis=1) / np.maximum(ntied, 1), 0.0)
    m, se = mean_se(score.tolist())
    return Estimate(m, se)


def expected_draws_until_correct(n: int, c: int) -> float:
    """PassUntil: expected number of draws (without replacement, random order) until the
    first correct sample, (n + 1)/(c + 1); infinite when no sample is correct."""
    if not 0 <= c <= n or n < 1:
        raise ValueError(f"need 0 <= c <= n and n >= 1, got n={n}, c={c}")
    if c == 0:
        return math.inf
    return (n + 1) / (c + 1)


def pass_until(n: int, c: int) -> float:
    """PassUntil pass-rate estimate 1 / E[draws until the first correct sample] (0 if none)."""
    e = expected_draws_until_correct(n, c)
    return 0.0 if math.isinf(e) else 1.0 / e


def _check_conf(confidence: Sequence[float], correct: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    if len(confidence) != len(correct):
        raise ValueError("confidence and correct differ in length")
    if len(confidence) == 0:
        raise ValueError("need at least one decision")
    conf = np.asarray(confidence, dtype=float)
    if np.any(~np.isfinite(conf)) or np.any(conf < 0) or np.any(conf > 1):
        bad = int(np.argmax(~np.isfinite(conf) | (conf < 0) | (conf > 1)))
        raise ValueError(f"confidence[{bad}] = {confidence[bad]!r} is not in [0, 1]")
    return conf, np.asarray(correct, dtype=float)


def ece(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error: equal-width bins on [0, 1] (the last one closed),
    Σ_b (|b|/N)·|accuracy_b − mean confidence_b|."""
    conf, ok = _check_conf(confidence, correct)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() / len(conf) * abs(ok[mask].mean() - conf[mask].mean())
    return float(total)


def brier(confidence: Sequence[float], correct: Sequence[bool]) -> float:
    """Brier score of the decisions' confidences: mean (confidence − correct)²."""
    conf, ok = _check_conf(confidence, correct)
    return float(((conf - ok) ** 2).mean())
