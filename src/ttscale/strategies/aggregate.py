"""Aggregation by the model itself: universal self-consistency (``usc``: the model reads the
candidates and names the most consistent one) and generative self-aggregation (``gsa``:
the model writes one improved response from them).

Both work where answers cannot be extracted (free-form text): USC returns a candidate's
text, GSA a new text. The aggregation prompt is drawn like any other sample (a Draw with
its own ``prompt`` and ``stream``), so it is stored, costed and replayable.
"""

from __future__ import annotations

import re

from pydantic import Field

from ..types import Prompt, Sample, prompt_text
from .base import Action, Done, Draw, Strategy, StrategyParams, View, vote

__all__ = ["UniversalSC", "SelfAggregation", "usc_prompt", "gsa_prompt", "parse_pick", "with_user_text"]


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " …"


def with_user_text(prompt: Prompt, text: str, *, prepend: bool = False) -> Prompt:
    """``text`` as a prompt of the problem's kind: plain text, or a chat whose last user turn
    is replaced (or, with ``prepend``, prefixed) by it."""
    if isinstance(prompt, str):
        return text
    messages = [dict(m) for m in prompt]
    for m in reversed(messages):
        if m.get("role") == "user":
            m["content"] = text + "\n\n" + m.get("content", "") if prepend else text
            return messages
    return [*messages, {"role": "user", "content": text}]


def usc_prompt(question: Prompt, candidates: list[Sample], limit: int) -> Prompt:
    body = "\n\n".join(f"Response {i + 1}: {_clip(s.text, limit)}" for i, s in enumerate(candidates))
    text = ("I have generated the following responses to the question below.\n\n"
            f"Question:\n{prompt_text(question).strip()}\n\n{body}\n\n"
            "Evaluate these responses and select the most consistent response based on "
            "majority consensus.\nThe most consistent response is Response")
    return with_user_text(question, text)


def gsa_prompt(question: Prompt, candidates: list[Sample], limit: int) -> Prompt:
    body = "\n\n".join(f"Candidate {i + 1}: {_clip(s.text, limit)}" for i, s in enumerate(candidates))
    header = ("Here are several candidate responses to the question that follows. Use them to "
              f"write one improved, correct final response.\n\n{body}\n\n")
    if isinstance(question, str):
        return header + question  # the original prompt last, so a base model answers in its format
    return with_user_text(question, header.rstrip(), prepend=True)


_NUM = re.compile(r"\d+")


def parse_pick(text: str, n: int) -> int | None:
    """The first number in ``text`` as a 0-based candidate index, or None if out of range."""
    m = _NUM.search(text)
    if not m:
        return None
    k = int(m.group())
    return k - 1 if 1 <= k <= n else None


def _agreement(view: View, candidates: list[Sample], answer: str | None, text: str) -> float:
    """Share of candidates that agree with the pick: by answer class when answers can be
    extracted, else by identical (stripped) text."""
    if not candidates:
        return 0.0
    if answer is not None:
        same = sum(1 for s in candidates if s.answer is not None and view.canonical(s.answer) == answer)
    else:
        same = sum(1 for s in candidates if s.text.strip() == text.strip())
    return same / len(candidates)


class USCParams(StrategyParams):
    n: int = Field(8, ge=2, le=64, description="candidates shown to the model")
    pick_tokens: int = Field(8, ge=1, le=4096, description="tokens for the model's pick")
    max_chars: int = Field(2000, ge=50, le=100_000, description="each candidate is clipped to this many characters")


class UniversalSC(Strategy):
    """Universal self-consistency: the model picks the most consistent of n responses."""

    name = "usc"
    kind = "aggregate"
    Params = USCParams
    stream_name = "usc"

    def decide(self, view: View) -> Action:
        cands = view.stream()
        if len(cands) < self.params.n:
            return Draw(self.params.n - len(cands))
        if not view.stream(self.stream_name):
            return Draw(1, overrides={"temperature": 0.0, "max_tokens": self.params.pick_tokens},
                        prompt=usc_prompt(view.prompt, cands[: self.params.n], self.params.max_chars),
                        stream=self.stream_name)
        return self.finalize(view)

    def finalize(self, view: View) -> Done:
        """The model's pick; if it named no valid response (or the budget ran out first),
        the majority answer among the candidates at half its vote share as confidence."""
        cands = view.stream()[: self.params.n]
        if not cands:
            return Done(answer=None)
        judged = view.stream(self.stream_name)
        pick = parse_pick(judged[0].text, len(cands)) if judged else None
        if pick is None:
            d = vote(view, cands)
            if d.answer is None:
                s = cands[0]
                return Done(None, 0.0, {}, s.index, s.text)
            return Done(d.answer, d.confidence / 2, d.votes, d.sample_index, d.text)
        s = cands[pick]
        answer = None if s.answer is None else view.canonical(s.answer)
        return Done(answer, _agreement(view, cands, answer, s.text), vote(view, cands).votes, s.index, s.text)


class GSAParams(StrategyParams):
    n: int = Field(4, ge=1, le=64, description="candidates shown to the model")
    temperature: float = Field(0.0, ge=0.0, le=5.0, description="temperature of the aggregating draw")
    max_chars: int = Field(2000, ge=50, le=100_000, description="each candidate is clipped to this many characters")


class SelfAggregation(Strategy):
    """Generative self-aggregation: the model writes one improved response from n candidates."""

    name = "gsa"
    kind = "aggregate"
    Params = GSAParams
    stream_name = "gsa"

    def decide(self, view: View) -> Action:
        cands = view.stream()
        if len(cands) < self.params.n:
            return Draw(self.params.n - len(cands))
        if not view.stream(self.stream_name):
            return Draw(1, overrides={"temperature": self.params.temperature},
                        prompt=gsa_prompt(view.prompt, cands[: self.params.n], self.params.max_chars),
                        stream=self.stream_name)
        return self.finalize(view)

    def finalize(self, view: View) -> Done:
        """The aggregate's answer; confidence is how many candidates agree with it. Without
        an aggregate (budget exhausted) the candidates' majority."""
        cands = view.stream()[: self.params.n]
        agg = view.stream(self.stream_name)
        if not agg:
            return vote(view, cands)
        s = agg[0]
        answer = None if s.answer is None else view.canonical(s.answer)
        conf = _agreement(view, cands, answer, s.text) if answer is not None else 0.0
        return Done(answer, conf, vote(view, cands).votes, s.index, s.text)
