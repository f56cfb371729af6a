"""Per-sample signals that strategies weight, rank or select by.

A *scorer* names where a sample's score comes from:

- ``logprob``: path likelihood, ``exp(mean token log-prob)`` (in (0, 1]);
- ``self_certainty``: mean KL(Uniform ‖ p) over response tokens (exact with a full
  distribution, an approximation from top-k log-probs — ``Sample.distribution`` says which);
- ``brevity``: ``1 / (1 + completion_tokens / 100)``, because for reasoning models shorter
  answers are more often right;
- any registered verifier name: that verifier's score (the strategy asks for it with Verify);
- ``a+b+...``: an ensemble — the mean of the members' ranks scaled to [0, 1] within the
  problem, so signals on different scales combine without tuning.

Samples that lack a signal (a hosted API without log-probs) get the mean of those that have
it, so a missing value neither wins nor loses; when no sample has it every score is equal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, UnknownNameError
from ..types import Sample
from .base import Verify, View

__all__ = ["BUILTIN_SIGNALS", "HEDGES", "check_scorer", "scorer_parts", "verifier_parts",
           "raw_signal", "scores", "ranks", "hedge_count", "pending_verify",
           "verifier_supports", "check_task_verifiers"]

BUILTIN_SIGNALS = ("logprob", "self_certainty", "brevity")

#: hesitation markers; for reasoning models wrong answers hedge more often
HEDGES = re.compile(r"\b(wait|alternatively|hmm+|but actually|let me re-?check|on second thought)\b",
                    re.IGNORECASE)


def hedge_count(text: str) -> int:
    """How many hesitation markers a response contains."""
    return len(HEDGES.findall(text))


def scorer_parts(scorer: str) -> list[str]:
    return [p.strip() for p in scorer.split("+") if p.strip()]


def verifier_parts(scorer: str) -> list[str]:
    """The members of ``scorer`` that are verifiers (need Verify actions)."""
    return [p for p in scorer_parts(scorer) if p not in BUILTIN_SIGNALS]


def check_scorer(scorer: str, field: str) -> str:
    """Validate a scorer spec at construction: each member is a built-in signal or a
    registered verifier; otherwise the error lists everything allowed."""
    parts = scorer_parts(scorer)
    if not parts:
        raise ConfigError(field, f"empty scorer; use one of {', '.join(BUILTIN_SIGNALS)} or a verifier name")
    from ..registry import verifiers
    for p in parts:
        if p not in BUILTIN_SIGNALS and p not in verifiers:
            raise UnknownNameError(f"scorer ({field})", p, [*BUILTIN_SIGNALS, *verifiers.names()])
    return scorer


def raw_signal(view: View, sample: Sample, name: str) -> float | None:
    """One signal of one sample, or None when the sample does not carry it."""
    if name == "logprob":
        return None if sample.logprob_mean is None else math.exp(sample.logprob_mean)
    if name == "self_certainty":
        return sample.self_certainty_mean
    if name == "brevity":
        return 1.0 / (1.0 + sample.usage.completion_tokens / 100.0)
    v = view.verdict(sample, name)
    if v is not None and v.score is not None:
        return float(v.score)
    return sample.scores.get(name)


def _filled(values: Sequence[float | None]) -> list[float]:
    have = [v for v in values if v is not None]
    fill = sum(have) / len(have) if have else 1.0
    return [fill if v is None else float(v) for v in values]


def ranks(values: Sequence[float]) -> list[float]:
    """Ranks in [0, 1] (1 = best = largest); ties share their average rank."""
    n = len(values)
    if n <= 1:
        return [1.0] * n
    order = sorted(range(n), key=lambda i: values[i])
    out = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        avg = (i + j) / 2 / (n - 1)
        for t in range(i, j + 1):
            out[order[t]] = avg
        i = j + 1
    return out


def scores(view: View, samples: Sequence[Sample], scorer: str) -> list[float]:
    """Scores of ``samples`` under ``scorer`` (see the module docstring)."""
    parts = scorer_parts(scorer)
    if len(parts) == 1:
        return _filled([raw_signal(view, s, parts[0]) for s in samples])
    per = [ranks(_filled([raw_signal(view, s, p) for s in samples])) for p in parts]
    return [sum(col) / len(parts) for col in zip(*per, strict=True)]


def pending_verify(view: View, samples: Sequence[Sample], scorer: str) -> Verify | None:
    """The Verify action still needed before ``samples`` can be scored (None when every
    verifier member of ``scorer`` has judged every sample)."""
    for name in verifier_parts(scorer):
        by_stream: dict[str, list[int]] = {}
        for s in samples:
            if view.verdict(s, name) is None and name not in s.scores:
                by_stream.setdefault(s.stream, []).append(s.index)
        for stream, idx in by_stream.items():
            return Verify(tuple(idx), name, stream=stream)
    return None


#: verifiers bound to one answer type (they grade with that type's grader)
_TYPED = {"code": "code", "math": "math", "choice": "choice", "text": "text"}


def verifier_supports(name: str, task: Any) -> bool:
    """Whether verifier ``name`` can score samples of ``task``: a verifier class may say so
    itself (``supports(task)``); the graders bound to an answer type need tasks of that type;
    model-based verifiers (judge, genrm, prm, ensemble, ...) take any task."""
    from ..registry import verifiers
    target = verifiers.get(name)
    supports = getattr(target, "supports", None)
    if callable(supports):
        return bool(supports(task))
    want = _TYPED.get(name)
    return want is None or getattr(task, "answer_type", None) == want


def check_task_verifiers(scorer: str, task: Any, field: str) -> None:
    """ConfigError naming ``field`` when a verifier in ``scorer`` does not support ``task``;
    the message lists the scorers that do."""
    from ..registry import verifiers
    for name in verifier_parts(scorer):
        if not verifier_supports(name, task):
            ok = [*BUILTIN_SIGNALS, *(v for v in verifiers.names() if verifier_supports(v, task))]
            raise ConfigError(field, f"verifier {name!r} does not support task {getattr(task, 'name', task)!r} "
                              f"(answer type {getattr(task, 'answer_type', '?')}); use one of: {', '.join(ok)}")
