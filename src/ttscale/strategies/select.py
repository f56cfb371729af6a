"""Best-of-N selection by any scorer (log-prob, self-certainty, brevity, a verifier, or an
ensemble ``a+b``; see :mod:`ttscale.strategies.signals`).

Ties: methods.md's BoN@k estimator averages over tied top scores, i.e. picks uniformly
among them. A decision must be deterministic (replay reproduces live runs), so among the
tied top-scored samples the answer most of them share wins, and the first drawn breaks any
remaining tie — the rule whose expected accuracy is at least the tie-averaged one whenever
agreement signals correctness.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .base import Action, Done, FixedN, StrategyParams, View, vote
from .signals import (
    check_scorer,
    check_task_verifiers,
    pending_verify,
    ranks,
    scorer_parts,
    scores,
    verifier_parts,
)

__all__ = ["BestOfN", "best_of"]


def best_of(view: View, samples: list, scorer: str) -> Done:
    """The best-scored sample among those with an answer (all samples when none has one)."""
    if not samples:
        return Done(answer=None, confidence=0.0)
    answered = [s for s in samples if s.answer is not None] or samples
    sc = scores(view, answered, scorer)
    top = max(sc)
    tied = [s for s, v in zip(answered, sc, strict=True) if v == top]
    pick = tied[0]
    if len(tied) > 1 and any(s.answer is not None for s in tied):
        d = vote(view, tied)
        pick = next(s for s in tied if s.answer is not None and view.canonical(s.answer) == d.answer)
    answer = None if pick.answer is None else view.canonical(pick.answer)
    parts = scorer_parts(scorer)
    if len(parts) == 1 and verifier_parts(scorer):
        confidence = min(1.0, max(0.0, top))  # a verifier's P(correct) is the confidence
    else:
        w = [r + 1e-9 for r in ranks(sc)]
        mine = sum(wi for s, wi in zip(answered, w, strict=True)
                   if s.answer is not None and answer is not None and view.canonical(s.answer) == answer)
        confidence = mine / sum(w)
    votes: dict[str, float] = {}
    for s, v in zip(answered, sc, strict=True):
        if s.answer is not None:
            key = view.canonical(s.answer)
            votes[key] = max(votes.get(key, float("-inf")), v)
    return Done(answer=answer, confidence=confidence, votes=votes, sample_index=pick.index, text=pick.text)


class BoNParams(StrategyParams):
    n: int = Field(8, ge=1, le=4096, description="candidates to draw")
    scorer: str = Field("logprob", description="logprob, self_certainty, brevity, a verifier name, "
                        "or an ensemble a+b (mean of within-problem ranks)")

    @field_validator("scorer")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_scorer(v, "bon.scorer")


class BestOfN(FixedN):
    """Best-of-N: draw n candidates, answer with the one the scorer ranks highest."""

    name = "bon"
    kind = "select"
    Params = BoNParams

    @property
    def needs_verifier(self) -> bool:  # type: ignore[override]
        return bool(verifier_parts(self.params.scorer))

    def check_task(self, task: Any) -> None:
        check_task_verifiers(self.params.scorer, task, "bon.scorer")

    def after_draw(self, view: View) -> Action:
        pending = pending_verify(view, view.stream()[: self.params.n], self.params.scorer)
        return pending if pending is not None else self.finalize(view)

    def finalize(self, view: View) -> Done:
        return best_of(view, view.stream()[: self.params.n], self.params.scorer)
