"""Cascade: the cheap model samples first; the strong model is asked only when the cheap
vote is not decisive.

The strong model's samples are the stream ``strong`` (route it to the strong model with
:class:`ttscale.backends.routed.RoutedBackend`, which also prices both models, so
``Decision.usage.cost`` holds both bills). Decisive means the Beta rule's posterior that the
cheap leader beats its runner-up reaches ``threshold``. After escalation the answer is a
weighted vote: each strong sample counts ``strong_weight`` cheap ones. ``max_cost`` caps the
spend: no escalation once the cheap samples alone cost that much.
"""

from __future__ import annotations

from pydantic import Field

from .adaptive import beta_confidence, class_tally
from .base import Action, Done, Draw, Strategy, StrategyParams, View, vote

__all__ = ["Cascade"]


class CascadeParams(StrategyParams):
    cheap_n: int = Field(4, ge=1, le=4096, description="samples from the cheap model")
    strong_n: int = Field(2, ge=1, le=4096, description="samples from the strong model on escalation")
    threshold: float = Field(0.9, gt=0.0, lt=1.0, description="cheap vote is decisive when P(leader beats runner-up) >= this")
    strong_weight: float = Field(2.0, gt=0.0, le=1000.0, description="votes per strong sample")
    max_cost: float | None = Field(None, gt=0.0, description="no escalation once the cheap samples cost this much (dollars)")
    stream: str = Field("strong", min_length=1, description="stream name routed to the strong model")


class Cascade(Strategy):
    """Cascade: vote with the cheap model; escalate to the strong model when the vote is not decisive."""

    name = "cascade"
    kind = "sequential"
    Params = CascadeParams

    def _cheap(self, view: View) -> tuple[Done, float]:
        cheap = view.stream()[: self.params.cheap_n]
        c = class_tally(view, cheap)
        p = beta_confidence(c[0], c[1] if len(c) > 1 else 0.0) if c else 0.0
        return vote(view, cheap), p

    def decide(self, view: View) -> Action:
        p = self.params
        have = len(view.stream())
        if have < p.cheap_n:
            return Draw(p.cheap_n - have)
        d, conf = self._cheap(view)
        spent = sum(s.usage.cost for s in view.stream()[: p.cheap_n])
        if conf >= p.threshold or (p.max_cost is not None and spent >= p.max_cost):
            return self.finalize(view)
        strong = view.stream(p.stream)
        if len(strong) < p.strong_n:
            return Draw(p.strong_n - len(strong), stream=p.stream)
        return self.finalize(view)

    def finalize(self, view: View) -> Done:
        p = self.params
        cheap = view.stream()[: p.cheap_n]
        strong = view.stream(p.stream)[: p.strong_n]
        if not strong:
            d, conf = self._cheap(view)
            return Done(d.answer, conf if d.answer is not None else 0.0, d.votes, d.sample_index, d.text)
        return vote(view, [*strong, *cheap], [p.strong_weight] * len(strong) + [1.0] * len(cheap))
