"""The serialisable data model: Problem, Sample, Verdict, Decision, Usage.

Every record carries ``schema`` (the version of this module's layout) so stored banks can
be read by later versions. Records are pydantic models: validation errors name the field,
``model_dump(mode="json")`` gives plain JSON, and ``model_validate`` reads it back.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SCHEMA_VERSION",
    "Message",
    "Prompt",
    "Usage",
    "Problem",
    "Generation",
    "Sample",
    "Verdict",
    "Decision",
    "prompt_text",
]

SCHEMA_VERSION = 1

Message = dict[str, str]
"""A chat message ``{"role": ..., "content": ...}``."""

Prompt = str | list[Message]
"""A completion prompt (text) or a chat prompt (messages)."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_: int = Field(default=SCHEMA_VERSION, alias="schema")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Usage(BaseModel):
    """Compute spent. Prompt tokens shared by several samples are counted once:
    the first sample of a batch carries them in ``prompt_tokens``, the others in
    ``cached_prompt_tokens``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    wall_time: float = 0.0
    cost: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
            wall_time=self.wall_time + other.wall_time,
            cost=self.cost + other.cost,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @staticmethod
    def total(items: list[Usage]) -> Usage:
        out = Usage()
        for u in items:
            out = out + u
        return out


class Problem(_Record):
    """One question. ``prompt`` is what the backend sees (already rendered by the task);
    ``answers`` holds the accepted reference answers (empty when unknown)."""

    id: str
    prompt: Prompt
    answers: list[str] = Field(default_factory=list)
    task: str = ""
    answer_type: Literal["math", "choice", "text", "code"] = "text"
    metadata: dict[str, Any] = Field(default_factory=dict)


class Generation(BaseModel):
    """What a backend returns for one completion, before the engine names it a Sample.

    ``distribution`` says how entropy/self-certainty were obtained: ``full`` (exact, from the
    whole next-token distribution), ``top_k`` (an approximation from top log-probs) or
    ``none`` (not available)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    finish_reason: str = "stop"
    usage: Usage = Field(default_factory=Usage)
    logprob_sum: float | None = None
    logprob_mean: float | None = None
    logprob_min: float | None = None
    entropy_mean: float | None = None
    self_certainty_mean: float | None = None
    distribution: Literal["full", "top_k", "none"] = "none"
    #: True when ``logprob_sum`` is the log-probability of this exact completion under the
    #: model at temperature 1 — what it was sampled at (top-p/top-k truncation only raises a
    #: kept token's chance, so the value stays a lower bound). ``exp(logprob_sum)`` is then a
    #: proven lower bound on how often this completion comes back, which lets ``voi`` certify
    #: the answer distribution's mode from a few short samples. False when unknown.
    sampled_logprob: bool = False
    latency: float = 0.0
    model: str = ""
    seed: int | None = None


class Sample(_Record, Generation):
    """One stored solution: a :class:`Generation` plus where it belongs. Key:
    (problem_id, stream, index). ``stream`` separates independent sample streams of a
    problem (``main`` for the run's own settings, ``greedy``, an aggregator's prompts, one
    model of an imported bank)."""

    problem_id: str
    index: int
    stream: str = "main"
    answer: str | None = None
    config_hash: str = ""
    scores: dict[str, float] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_generation(cls, g: Generation, *, problem_id: str, index: int, stream: str,
                        answer: str | None, config_hash: str, **extra: Any) -> Sample:
        return cls(problem_id=problem_id, index=index, stream=stream, answer=answer,
                   config_hash=config_hash, **g.model_dump(), **extra)


class Verdict(_Record):
    """A verifier's judgement of one sample; ``score`` in [0, 1] when numeric."""

    problem_id: str
    sample_index: int
    stream: str = "main"
    verifier: str
    score: float | None = None
    label: str | None = None
    usage: Usage = Field(default_factory=Usage)
    raw: str = ""


class Decision(_Record):
    """A strategy's final answer for one problem, with everything it cost."""

    problem_id: str
    strategy: str
    params: dict[str, Any] = Field(default_factory=dict)
    answer: str | None
    confidence: float = 0.0
    samples_used: int = 0
    verifier_calls: int = 0
    usage: Usage = Field(default_factory=Usage)
    correct: bool | None = None
    votes: dict[str, float] = Field(default_factory=dict)
    sample_index: int | None = None
    text: str | None = None
    ordering: int | None = None


def prompt_text(prompt: Prompt) -> str:
    """A plain-text rendering of a prompt, for logs, hashing and non-chat backends."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in prompt)
