"""Voting strategies: greedy, single sample, and self-consistency (majority vote)."""

from __future__ import annotations

from pydantic import Field

from .base import Action, Done, Draw, Strategy, StrategyParams, View, vote

__all__ = ["Greedy", "Single", "SelfConsistency"]


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


class SelfConsistency(Strategy):
    """Self-consistency: draw n samples, majority vote over equivalent answers."""

    name = "sc"
    kind = "vote"
    Params = SCParams

    def decide(self, view: View) -> Action:
        have = len(view.stream())
        if have < self.params.n:
            return Draw(self.params.n - have)
        return self.finalize(view)

    def finalize(self, view: View) -> Done:
        return vote(view, view.stream()[: self.params.n])
