"""The strategy interface: a policy that looks at what has been sampled for one problem and
returns the next action. Strategies never call a model, so the same code runs live, behind
the proxy, and in replay over a stored bank.

    Draw(n, overrides)       ask the engine for n more solutions
    Verify(indices, name)    ask for verifier scores on some samples
    Done(answer, confidence) the final decision

A strategy declares its parameters as a pydantic ``Params`` model; unknown or out-of-range
parameters raise :class:`ConfigError` listing what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from ..config import validate_model
from ..errors import ConfigError
from ..types import Prompt, Sample, Verdict

__all__ = [
    "Draw",
    "Verify",
    "Done",
    "Action",
    "View",
    "Strategy",
    "StrategyParams",
    "Kind",
    "vote",
    "FixedN",
]

Kind = Literal["vote", "select", "adaptive", "aggregate", "sequential"]


@dataclass(frozen=True)
class Draw:
    """Draw ``n`` more samples. ``prompt`` replaces the problem's prompt (aggregation,
    refinement); ``stream`` names the sample stream so such samples are stored apart."""

    n: int
    overrides: dict[str, Any] = field(default_factory=dict)
    prompt: Prompt | None = None
    stream: str | None = None


@dataclass(frozen=True)
class Verify:
    """Score samples (by ``Sample.index`` within ``stream``) with a registered verifier."""

    indices: tuple[int, ...]
    verifier: str
    stream: str | None = None


@dataclass(frozen=True)
class Done:
    """The final answer. ``votes`` maps answer → weight; ``sample_index`` is a representative
    sample of the chosen answer (its text is what the proxy returns)."""

    answer: str | None
    confidence: float = 0.0
    votes: dict[str, float] = field(default_factory=dict)
    sample_index: int | None = None
    text: str | None = None


Action = Draw | Verify | Done


@dataclass
class View:
    """What a strategy may look at: the problem's samples so far, in draw order, and their
    verdicts. ``same`` is the task's answer-equivalence test (math equivalence for math
    tasks, normalised equality otherwise); ``remaining_samples`` is what the budget allows."""

    samples: list[Sample]
    verdicts: dict[tuple[str, int, str], Verdict] = field(default_factory=dict)
    same: Callable[[str, str], bool] = staticmethod(lambda a, b: a == b)  # type: ignore[assignment]
    remaining_samples: int | None = None
    remaining_tokens: int | None = None
    prompt: Prompt = ""
    extract: Callable[[str], str | None] = staticmethod(lambda text: None)  # type: ignore[assignment]
    main_stream: str = "main"
    _classes: dict[str, str] = field(default_factory=dict, repr=False)

    def stream(self, name: str | None = None) -> list[Sample]:
        """Samples of one stream (the problem's own stream by default)."""
        name = name or self.main_stream
        return [s for s in self.samples if s.stream == name]

    def canonical(self, answer: str) -> str:
        """The representative of ``answer``'s equivalence class (first-seen member)."""
        if answer in self._classes:
            return self._classes[answer]
        for rep in dict.fromkeys(self._classes.values()):
            if self.same(answer, rep):
                self._classes[answer] = rep
                return rep
        self._classes[answer] = answer
        return answer

    def verdict(self, sample: Sample, verifier: str) -> Verdict | None:
        return self.verdicts.get((sample.stream, sample.index, verifier))


def vote(view: View, samples: Sequence[Sample], weights: Sequence[float] | None = None) -> Done:
    """Weighted majority over equivalence classes. Samples without an answer do not vote.
    Ties go to the class seen first in draw order (deterministic, so replay reproduces it);
    confidence is the winner's share of the total weight."""
    totals: dict[str, float] = {}
    first: dict[str, Sample] = {}
    for i, s in enumerate(samples):
        if s.answer is None:
            continue
        w = 1.0 if weights is None else float(weights[i])
        key = view.canonical(s.answer)
        totals[key] = totals.get(key, 0.0) + w
        first.setdefault(key, s)
    if not totals:
        return Done(answer=None, confidence=0.0, votes={})
    best = max(totals, key=lambda k: totals[k])  # max keeps the first maximal key: draw order
    total = sum(totals.values())
    rep = first[best]
    return Done(answer=best, confidence=totals[best] / total if total > 0 else 0.0,
                votes=totals, sample_index=rep.index, text=rep.text)


class StrategyParams(BaseModel):
    """Base for strategy parameter models: unknown names are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Strategy:
    """Base class. Subclasses set ``name``, ``kind``, ``Params`` and implement ``decide``.

    ``finalize`` is called when the budget is exhausted or the bank has no more samples;
    it must return the best decision from what is there (default: a vote)."""

    name: ClassVar[str] = ""
    kind: ClassVar[Kind] = "vote"
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    needs_verifier: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        allowed = sorted(self.Params.model_fields)
        for key in params:
            if key not in self.Params.model_fields:
                raise ConfigError(f"{self.name}.{key}",
                                  f"unknown parameter; {self.name} accepts: {', '.join(allowed) or '(none)'}")
        self.params = validate_model(self.Params, params, prefix=f"{self.name}.")

    @property
    def param_dict(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")

    @property
    def label(self) -> str:
        """``name:k=v,...`` — how the strategy is written on the command line."""
        items = ",".join(f"{k}={v}" for k, v in self.param_dict.items() if v is not None)
        return f"{self.name}:{items}" if items else self.name

    @property
    def max_samples(self) -> int | None:
        """The most samples this strategy may draw (used to size banks); None if unbounded."""
        return getattr(self.params, "n", None) or getattr(self.params, "max_samples", None)

    def decide(self, view: View) -> Action:
        raise NotImplementedError

    def check_task(self, task: Any) -> None:
        """Raise ConfigError when this strategy cannot run on ``task`` (e.g. it needs a
        verifier the task does not support). The engine calls it before solving."""

    def finalize(self, view: View) -> Done:
        return vote(view, view.stream())

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Name, kind, parameters with defaults, and the first docstring line."""
        params = {name: {"default": f.default, "description": f.description or ""}
                  for name, f in cls.Params.model_fields.items()}
        doc = (cls.__doc__ or "").strip().splitlines()
        return {"name": cls.name, "kind": cls.kind, "params": params, "doc": doc[0] if doc else ""}


class FixedN(Strategy):
    """Base for strategies that draw exactly ``params.n`` samples of the problem's stream and
    then decide; ``after_draw`` may still ask for verifier scores before ``finalize``."""

    def decide(self, view: View) -> Action:
        have = len(view.stream())
        if have < self.params.n:  # type: ignore[attr-defined]
            return Draw(self.params.n - have)  # type: ignore[attr-defined]
        return self.after_draw(view)

    def after_draw(self, view: View) -> Action:
        return self.finalize(view)
