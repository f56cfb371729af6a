"""Selective answering: wrap any strategy and answer "no answer" below a confidence.

Why: a wrong answer often costs more than none (a proxy can fall back, a human can look);
with every strategy reporting confidence, abstaining trades coverage for precision.
The inner strategy is written like on the command line, with ``;`` between its parameters
(``inner=beta;threshold=0.99``) because ``,`` separates the wrapper's own.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Action, Done, Strategy, StrategyParams, View

__all__ = ["Abstain"]


def _inner(spec: str) -> Strategy:
    from ..errors import ConfigError
    from ..registry import strategies
    from ..runner import parse_strategy_spec
    name, params = parse_strategy_spec(_normalise(spec).replace(";", ","))
    if name == "abstain":
        raise ConfigError("abstain.inner", "cannot wrap abstain in itself")
    strategy: Strategy = strategies.create(name, **params)
    return strategy


class AbstainParams(StrategyParams):
    inner: str = Field("sc", min_length=1, description="wrapped strategy: NAME or NAME:k=v;k=v")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="answer only when confidence >= this")



def _normalise(spec: str) -> str:
    """``beta;threshold=0.9`` and ``beta:threshold=0.9;max_samples=8`` → ``beta:threshold=...``."""
    if ":" not in spec and ";" in spec:
        spec = spec.replace(";", ":", 1)
    return spec


class Abstain(Strategy):
    """Selective answering: the inner strategy's answer, or no answer when its confidence is below threshold."""

    name = "abstain"
    kind = "select"
    Params = AbstainParams

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.inner = _inner(_normalise(self.params.inner))

    @property
    def max_samples(self) -> int | None:
        return self.inner.max_samples

    def check_task(self, task: Any) -> None:
        self.inner.check_task(task)

    def _gate(self, d: Done) -> Done:
        if d.answer is None or d.confidence >= self.params.threshold:
            return d
        return Done(None, d.confidence, d.votes, d.sample_index, None)

    def decide(self, view: View) -> Action:
        a = self.inner.decide(view)
        return self._gate(a) if isinstance(a, Done) else a

    def finalize(self, view: View) -> Done:
        return self._gate(self.inner.finalize(view))
