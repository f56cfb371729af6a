"""Weak-verifier ensembles without labels (Weaver-style weak supervision).

Several cheap verifiers (judges, PRMs, unit tests, heuristics) each accept or reject a
sample, each with its own unknown true-accept rate (TPR) and false-accept rate (FPR).
Treating them as conditionally independent given the sample's hidden correctness, a
two-class Dawid–Skene model fitted by EM recovers those rates *from their agreement
patterns alone* and gives P(correct) per sample — no labels needed.

Pipeline (methods.md): normalise each verifier's scores to [0, 1] → binarise at a
threshold → drop verifiers whose acceptance rate is outside (0.1, 0.9) (they carry almost
no information and destabilise EM) → fit → posterior. Label switching is resolved by
assuming verifiers are better than chance on average (mean TPR > mean FPR).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, VerifierError
from ..types import Problem, Sample, Usage, Verdict
from .base import Verifier

__all__ = ["EnsembleFit", "normalise", "binarise", "fit_dawid_skene", "fit_ensemble", "EnsembleVerifier"]

EPS = 1e-4


@dataclass
class EnsembleFit:
    """Result of :func:`fit_ensemble`: ``posterior[i]`` = P(sample i correct); per kept
    verifier its estimated ``tpr`` (P(accept | correct)) and ``fpr`` (P(accept | wrong));
    ``prior`` = estimated share of correct samples; ``dropped`` maps a verifier to why."""

    posterior: np.ndarray
    tpr: dict[str, float]
    fpr: dict[str, float]
    prior: float
    kept: list[str]
    dropped: dict[str, str] = field(default_factory=dict)
    accept_rate: dict[str, float] = field(default_factory=dict)
    iterations: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"tpr": self.tpr, "fpr": self.fpr, "prior": self.prior, "kept": self.kept,
                "dropped": self.dropped, "accept_rate": self.accept_rate, "iterations": self.iterations}


def normalise(scores: np.ndarray) -> np.ndarray:
    """Min-max each column to [0, 1] (NaN = missing stays NaN). Columns already inside
    [0, 1] are left alone so probabilities keep their meaning."""
    out = np.array(scores, dtype=float, copy=True)
    for j in range(out.shape[1]):
        col = out[:, j]
        ok = ~np.isnan(col)
        if not ok.any():
            continue
        lo, hi = col[ok].min(), col[ok].max()
        if lo >= 0.0 and hi <= 1.0:
            continue
        out[ok, j] = (col[ok] - lo) / (hi - lo) if hi > lo else 0.5
    return out


def binarise(scores: np.ndarray, threshold: float | Sequence[float] = 0.5) -> np.ndarray:
    """1.0 (accept) where score ≥ threshold, 0.0 below, NaN where missing."""
    th = np.broadcast_to(np.asarray(threshold, dtype=float), (scores.shape[1],))
    out = (scores >= th[None, :]).astype(float)
    out[np.isnan(scores)] = np.nan
    return out


def fit_dawid_skene(votes: np.ndarray, max_iter: int = 200, tol: float = 1e-7
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    """Two-class Dawid–Skene EM on binary ``votes`` (n × m, NaN missing).

    Returns (posterior, tpr, fpr, prior, iterations). Initialised from the soft majority
    vote, which also fixes the orientation of the latent class."""
    n, m = votes.shape
    seen = ~np.isnan(votes)
    v = np.nan_to_num(votes)
    counts = seen.sum(1)
    post = np.where(counts > 0, (v * seen).sum(1) / np.maximum(counts, 1), 0.5)
    post = np.clip(post, 0.05, 0.95)
    tpr = fpr = np.full(m, 0.5)
    prior = 0.5
    it = 0
    while it < max_iter:
        it += 1
        # M-step
        w1, w0 = post[:, None] * seen, (1 - post)[:, None] * seen
        tpr = np.clip(((w1 * v).sum(0) + EPS) / (w1.sum(0) + 2 * EPS), EPS, 1 - EPS)
        fpr = np.clip(((w0 * v).sum(0) + EPS) / (w0.sum(0) + 2 * EPS), EPS, 1 - EPS)
        prior = float(np.clip(post.mean(), EPS, 1 - EPS))
        # E-step
        l1 = np.log(prior) + (seen * (v * np.log(tpr) + (1 - v) * np.log(1 - tpr))).sum(1)
        l0 = np.log(1 - prior) + (seen * (v * np.log(fpr) + (1 - v) * np.log(1 - fpr))).sum(1)
        new = 1.0 / (1.0 + np.exp(np.clip(l0 - l1, -700, 700)))
        delta = float(np.abs(new - post).max()) if n else 0.0
        post = new
        if delta < tol:
            break
    if (tpr - fpr).mean() < 0:  # label switching: the "correct" class is the one verifiers favour
        post, tpr, fpr, prior = 1 - post, fpr, tpr, 1 - prior
    return post, tpr, fpr, prior, it


def fit_ensemble(scores: np.ndarray | Mapping[str, Sequence[float | None]], names: Sequence[str] | None = None,
                 threshold: float | Sequence[float] = 0.5, min_accept: float = 0.1, max_accept: float = 0.9,
                 max_iter: int = 200) -> EnsembleFit:
    """Normalise, binarise, filter by acceptance rate, fit Dawid–Skene. ``scores`` is an
    n × m array (NaN = missing) with column ``names``, or a mapping name → scores."""
    if isinstance(scores, Mapping):
        names = list(scores)
        cols = [[np.nan if x is None else float(x) for x in scores[k]] for k in names]
        if len({len(c) for c in cols}) > 1:
            raise ConfigError("scores", "every verifier needs one score per sample")
        mat = np.array(cols, dtype=float).T if cols else np.zeros((0, 0))
    else:
        mat = np.asarray(scores, dtype=float)
        names = list(names) if names is not None else [f"v{j}" for j in range(mat.shape[1])]
    if mat.ndim != 2 or mat.shape[1] != len(names):
        raise ConfigError("scores", f"expected an n x {len(names)} matrix, got shape {mat.shape}")
    if not 0.0 <= min_accept < max_accept <= 1.0:
        raise ConfigError("min_accept", "need 0 <= min_accept < max_accept <= 1")
    votes = binarise(normalise(mat), threshold)
    rates: dict[str, float] = {}
    kept: list[int] = []
    dropped: dict[str, str] = {}
    for j, name in enumerate(names):
        col = votes[:, j]
        ok = ~np.isnan(col)
        if not ok.any():
            dropped[name] = "no scores"
            continue
        rate = float(col[ok].mean())
        rates[name] = rate
        if not (min_accept < rate < max_accept):
            dropped[name] = f"acceptance rate {rate:.3f} outside ({min_accept}, {max_accept})"
        else:
            kept.append(j)
    n = mat.shape[0]
    if not kept:
        return EnsembleFit(np.full(n, np.nan), {}, {}, float("nan"), [], dropped, rates, 0)
    post, tpr, fpr, prior, it = fit_dawid_skene(votes[:, kept], max_iter=max_iter)
    kn = [names[j] for j in kept]
    return EnsembleFit(post, dict(zip(kn, map(float, tpr), strict=True)),
                       dict(zip(kn, map(float, fpr), strict=True)), prior, kn, dropped, rates, it)


class EnsembleVerifier(Verifier):
    """Runs several registered verifiers and combines them with :func:`fit_ensemble`.

    Options: ``verifiers`` (list of names, or name → options), ``threshold``,
    ``min_accept``/``max_accept``, ``history`` (how many past samples' votes to keep for
    the fit: one problem's handful of samples is too few to estimate rates, so the model is
    refitted on everything seen so far, bounded). Score = posterior P(correct)."""

    name = "ensemble"

    def __init__(self, task: Any = None, verifiers: Sequence[str] | Mapping[str, Mapping[str, Any]] = ("judge",),
                 threshold: float = 0.5, min_accept: float = 0.1, max_accept: float = 0.9,
                 history: int = 20_000, **options: Any) -> None:
        super().__init__(task, **options)
        specs = dict(verifiers) if isinstance(verifiers, Mapping) else {v: {} for v in verifiers}
        if not specs:
            raise ConfigError("verifiers", "needs at least one verifier")
        if "ensemble" in specs:
            raise ConfigError("verifiers", "an ensemble cannot contain itself")
        from ..registry import verifiers as registry
        self.members = {name: registry.create(name, task=task, **dict(opts)) for name, opts in specs.items()}
        self.threshold, self.min_accept, self.max_accept = threshold, min_accept, max_accept
        self.history = history
        self._rows: list[list[float]] = []
        self.last_fit: EnsembleFit | None = None

    async def score(self, problem: Problem, samples: Sequence[Sample], backend: Any = None) -> list[Verdict]:
        names = list(self.members)
        results = await asyncio.gather(*(self.members[n].score(problem, samples, backend=backend) for n in names))
        for n, res in zip(names, results, strict=True):
            if len(res) != len(samples):
                raise VerifierError(f"member verifier {n!r} returned {len(res)} verdicts for {len(samples)} samples")
        rows = [[np.nan if results[j][i].score is None else float(results[j][i].score) for j in range(len(names))]
                for i in range(len(samples))]
        self._rows = (self._rows + rows)[-self.history:]
        fit = fit_ensemble(np.array(self._rows, dtype=float), names, self.threshold,
                           self.min_accept, self.max_accept)
        self.last_fit = fit
        post = fit.posterior[-len(samples):] if len(samples) else []
        out = []
        for i, s in enumerate(samples):
            usage = Usage.total([results[j][i].usage for j in range(len(names))])
            p = None if np.isnan(post[i]) else float(post[i])
            raw = {"members": {n: results[j][i].score for j, n in enumerate(names)}, "fit": fit.to_json()}
            out.append(self.verdict(s, score=p, label=None if p is None else ("yes" if p >= 0.5 else "no"),
                                    usage=usage, raw=json.dumps(raw)))
        return out
