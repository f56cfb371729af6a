"""Voting strategies: greedy, single sample, self-consistency (majority over equivalence
classes of answers), weighted voting, perplexity consistency with reasoning pruning (RPC)
and Borda voting by self-certainty. Samples without an extractable answer never vote."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, field_validator

from ..types import Sample
from .base import Action, Done, Draw, FixedN, Strategy, StrategyParams, View, vote
from .signals import check_scorer, check_task_verifiers, pending_verify, ranks, scores

__all__ = ["Greedy", "Single", "SelfConsistency", "Weighted", "RPC", "Borda",
           "weibull_mixture_fit", "rpc_keep"]


class Greedy(Strategy):
    """One greedy (temperature 0) decode; the baseline every method must beat."""

    name = "greedy"
    kind = "vote"

    def decide(self, view: View) -> Action:
        if not view.stream("greedy"):
            return Draw(1, overrides={"temperature": 0.0}, stream="greedy")
        return self.finalize(view)

    def finalize(self, view: View) -> Done:
        d = vote(view, view.stream("greedy")[:1])
        return Done(d.answer, 1.0 if d.answer is not None else 0.0, d.votes, d.sample_index, d.text)

    @property
    def max_samples(self) -> int:
        return 1


class Single(Strategy):
    """One sample at the run's temperature (pass@1 as a decision rule)."""

    name = "single"
    kind = "vote"

    def decide(self, view: View) -> Action:
        if not view.stream():
            return Draw(1)
        return self.finalize(view)

    def finalize(self, view: View) -> Done:
        return vote(view, view.stream()[:1])

    @property
    def max_samples(self) -> int:
        return 1


class SCParams(StrategyParams):
    n: int = Field(8, ge=1, le=4096, description="samples to draw before voting")


class SelfConsistency(FixedN):
    """Self-consistency: draw n samples, majority vote over equivalent answers."""

    name = "sc"
    kind = "vote"
    Params = SCParams

    def finalize(self, view: View) -> Done:
        return vote(view, view.stream()[: self.params.n])


class WeightedParams(StrategyParams):
    n: int = Field(8, ge=1, le=4096, description="samples to draw before voting")
    weight: str = Field("logprob", description="scorer giving each vote its weight: logprob "
                        "(exp mean log-prob), self_certainty, brevity, a verifier name, or a+b ensemble")

    @field_validator("weight")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_scorer(v, "weighted.weight")


class Weighted(FixedN):
    """Weighted majority vote: each answer class scores the sum of its samples' weights."""

    name = "weighted"
    kind = "vote"
    Params = WeightedParams

    def check_task(self, task: Any) -> None:
        check_task_verifiers(self.params.weight, task, "weighted.weight")

    def after_draw(self, view: View) -> Action:
        pending = pending_verify(view, view.stream()[: self.params.n], self.params.weight)
        return pending if pending is not None else self.finalize(view)

    def finalize(self, view: View) -> Done:
        """Vote with the weights there are; a sample left unscored when the budget ran out
        weighs the mean of the others."""
        samples = view.stream()[: self.params.n]
        return vote(view, samples, scores(view, samples, self.params.weight))


def weibull_mixture_fit(x: Sequence[float]) -> tuple[float, float, float, float, float]:
    """MLE of a two-component Weibull mixture ``w·W(k1, λ1) + (1−w)·W(k2, λ2)``.

    Starts at w=0.5, k1=1, λ1=1, k2=1.5, λ2=2 with w ∈ [0.2, 0.8] and the other parameters
    ≥ 0.01 (methods.md); returns (w, k1, λ1, k2, λ2)."""
    import numpy as np
    from scipy.optimize import minimize

    data = np.clip(np.asarray(x, dtype=float), 1e-9, None)

    def logpdf(k: float, lam: float) -> Any:
        z = data / lam
        return np.log(k / lam) + (k - 1) * np.log(z) - z ** k

    def nll(theta: Any) -> float:
        w, k1, l1, k2, l2 = theta
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            a = np.log(w) + logpdf(k1, l1)
            b = np.log1p(-w) + logpdf(k2, l2)
            value = -np.logaddexp(a, b).sum()
        return float(value) if np.isfinite(value) else 1e300  # steer the optimiser away

    res = minimize(nll, x0=[0.5, 1.0, 1.0, 1.5, 2.0], method="L-BFGS-B",
                   bounds=[(0.2, 0.8), (0.01, None), (0.01, None), (0.01, None), (0.01, None)])
    w, k1, l1, k2, l2 = (float(v) for v in res.x)
    return w, k1, l1, k2, l2


def rpc_keep(p: Sequence[float]) -> list[bool]:
    """Reasoning pruning: drop path i when the fitted low-likelihood component explains it
    better than the high one *and* it is below the mean likelihood. Fewer than 4 paths are
    too few to fit a mixture: keep them all."""
    import numpy as np
    from scipy.special import gamma

    if len(p) < 4 or max(p) - min(p) < 1e-9:
        return [True] * len(p)
    w, k1, l1, k2, l2 = weibull_mixture_fit(p)
    x = np.clip(np.asarray(p, dtype=float), 1e-9, None)

    def dens(k: float, lam: float) -> Any:
        z = x / lam
        return (k / lam) * z ** (k - 1) * np.exp(-(z ** k))

    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        d1, d2 = w * dens(k1, l1), (1 - w) * dens(k2, l2)
    high_first = l1 * gamma(1 + 1 / k1) > l2 * gamma(1 + 1 / k2)
    high, low = (d1, d2) if high_first else (d2, d1)
    mean = float(x.mean())
    return [not (lo > hi and xi < mean) for lo, hi, xi in zip(low, high, x, strict=True)]


class RPCParams(StrategyParams):
    n: int = Field(8, ge=1, le=4096, description="samples to draw before voting")
    prune: bool = Field(True, description="reasoning pruning with the Weibull-mixture rule")


class RPC(FixedN):
    """Perplexity consistency + reasoning pruning: vote with path likelihoods, dropping unlikely paths."""

    name = "rpc"
    kind = "vote"
    Params = RPCParams

    def finalize(self, view: View) -> Done:
        samples = [s for s in view.stream()[: self.params.n] if s.answer is not None]
        p = scores(view, samples, "logprob")
        keep = rpc_keep(p) if self.params.prune else [True] * len(samples)
        seen: set[str] = set()
        kept: list[Sample] = []
        weights: list[float] = []
        for s, pi, k in zip(samples, p, keep, strict=True):
            if k and s.text not in seen:  # identical texts count once
                seen.add(s.text)
                kept.append(s)
                weights.append(pi)
        return vote(view, kept, weights)


class BordaParams(StrategyParams):
    n: int = Field(8, ge=1, le=4096, description="samples to draw before voting")
    p: float = Field(0.5, ge=0.0, le=10.0, description="rank power; 0 is plain majority vote")


class Borda(FixedN):
    """Borda voting: samples ranked by self-certainty give (N−r+1)^p to their answer."""

    name = "borda"
    kind = "vote"
    Params = BordaParams

    def finalize(self, view: View) -> Done:
        samples = [s for s in view.stream()[: self.params.n] if s.answer is not None]
        n = len(samples)
        # rank r = 1 is the most self-certain; ranks() gives 1.0 to the best, ties averaged
        r = [1 + (1 - q) * (n - 1) for q in ranks(scores(view, samples, "self_certainty"))]
        return vote(view, samples, [(n - ri + 1) ** self.params.p for ri in r])
