"""Process reward: split a solution into steps, score each step, aggregate.

A step scorer is anything with ``async score_steps(problem_text, steps) -> (scores, usage)``
returning one score in [0, 1] per step. Two ship here:

- :class:`JudgeStepScorer` — a *generative* PRM: any backend judges each step in context
  ("Is the last step correct (Yes/No)?"), P(True) from next-token log-probs when the backend
  exposes them, else the parsed verdict (see :mod:`ttscale.verify.judge`);
- :class:`HTTPStepScorer` — a *discriminative* PRM served elsewhere (a GPU box running a
  Math-Shepherd/Qwen-PRM style model behind a small HTTP service). Protocol: ``POST url``
  with ``{"problem": str, "steps": [str, ...], "model": str | null}`` → ``{"step_scores":
  [float, ...]}`` (one per step, in [0, 1]) and optionally ``"usage": {"prompt_tokens": int}``.

Aggregation (methods.md): ``min`` (a chain is as good as its worst step — the usual
choice), ``last``, ``product``, ``mean``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Sequence
from typing import Any, Protocol

from ..errors import ConfigError, VerifierError
from ..types import Problem, Sample, Usage, Verdict
from .base import Verifier
from .judge import NO, YES, _problem_text, p_true_from_logprobs, parse_verdict

__all__ = ["split_steps", "aggregate_steps", "StepScorer", "JudgeStepScorer", "HTTPStepScorer",
           "PRMVerifier", "AGGREGATIONS"]

AGGREGATIONS = ("min", "last", "product", "mean")
MAX_STEPS = 32

STEP_TEMPLATE = (
    "Problem:\n{problem}\n\nSolution so far:\n{steps}\n\n"
    "Is the last step correct (Yes/No)? Answer:"
)


def split_steps(text: str, max_steps: int = MAX_STEPS) -> list[str]:
    """Steps of a solution: explicit "Step k:" markers when present, else blank-line
    separated paragraphs, else lines. Steps past ``max_steps`` are merged into the last
    one, so a pathological output cannot cost unbounded judge calls."""
    text = text.strip()
    if not text:
        return []
    marked = re.split(r"(?im)^(?=\s*(?:\*\*)?step\s*\d+\s*[:.)])", text)
    steps = [s.strip() for s in marked if s.strip()]
    if len(steps) <= 1:
        steps = [s.strip() for s in re.split(r"\n\s*\n", text) if s.strip()]
    if len(steps) <= 1:
        steps = [s.strip() for s in text.splitlines() if s.strip()]
    if len(steps) > max_steps:
        steps = steps[: max_steps - 1] + ["\n".join(steps[max_steps - 1:])]
    return steps


def aggregate_steps(scores: Sequence[float], how: str = "min") -> float | None:
    """One solution score from per-step scores."""
    if how not in AGGREGATIONS:
        raise ConfigError("aggregate", f"unknown aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}")
    if not scores:
        return None
    if how == "min":
        return min(scores)
    if how == "last":
        return scores[-1]
    if how == "product":
        return math.prod(scores)
    return sum(scores) / len(scores)


class StepScorer(Protocol):
    async def score_steps(self, problem: str, steps: list[str]) -> tuple[list[float], Usage]: ...


class JudgeStepScorer:
    """Generative PRM: the backend judges each step given the steps before it."""

    def __init__(self, backend: Any, template: str = STEP_TEMPLATE, max_tokens: int = 4) -> None:
        self.backend = backend
        self.template = template
        self.max_tokens = max_tokens

    async def score_steps(self, problem: str, steps: list[str]) -> tuple[list[float], Usage]:
        from ..config import SamplingConfig
        usage = Usage()
        out: list[float] = []
        has_lp = callable(getattr(self.backend, "next_token_logprobs", None))
        for k in range(1, len(steps) + 1):
            prompt = self.template.format(problem=problem, steps="\n\n".join(steps[:k]))
            if has_lp:
                lps, u = await self.backend.next_token_logprobs(prompt, list(YES + NO))
                p = p_true_from_logprobs(lps)
            else:
                cfg = SamplingConfig.build(temperature=0.0, max_tokens=self.max_tokens, logprobs=False)
                gens = await self.backend.generate(prompt, 1, cfg, 0)
                u = Usage.total([g.usage for g in gens])
                v = parse_verdict(gens[0].text)
                p = None if v is None else float(v)
            usage = usage + u
            out.append(0.5 if p is None else p)  # an unreadable step verdict is uninformative
        return out, usage


class HTTPStepScorer:
    """A discriminative PRM behind HTTP (protocol in the module docstring)."""

    def __init__(self, url: str, model: str | None = None, timeout: float = 60.0,
                 headers: dict[str, str] | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError("url", f"must be an http(s) URL, got {url!r}")
        self.url, self.model, self.timeout, self.headers = url, model, timeout, dict(headers or {})

    async def score_steps(self, problem: str, steps: list[str]) -> tuple[list[float], Usage]:
        import httpx
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                resp = await client.post(self.url, json={"problem": problem, "steps": steps, "model": self.model},
                                         headers=self.headers)
            resp.raise_for_status()
            data = resp.json()
            scores = [min(1.0, max(0.0, float(x))) for x in data["step_scores"]]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise VerifierError(f"PRM service {self.url} failed: {type(exc).__name__}: {exc}") from exc
        if len(scores) != len(steps):
            raise VerifierError(f"PRM service {self.url} returned {len(scores)} scores for {len(steps)} steps")
        usage = Usage(prompt_tokens=int((data.get("usage") or {}).get("prompt_tokens") or 0))
        return scores, usage


class PRMVerifier(Verifier):
    """Process-reward verifier. Options: ``url`` (use an HTTP PRM) or ``backend`` (judge
    backend; default the run's), ``aggregate`` (min/last/product/mean), ``max_steps``."""

    name = "prm"

    def __init__(self, task: Any = None, backend: Any = None, url: str | None = None,
                 aggregate: str = "min", max_steps: int = MAX_STEPS, model: str | None = None,
                 **options: Any) -> None:
        super().__init__(task, **options)
        aggregate_steps([1.0], aggregate)  # validate early
        if max_steps < 1:
            raise ConfigError("max_steps", "must be >= 1")
        if isinstance(backend, str):
            from ..registry import backends
            backend = backends.create(backend)
        self.aggregate = aggregate
        self.max_steps = max_steps
        self.http = HTTPStepScorer(url, model=model) if url else None
        self.backend = backend

    def scorer(self, backend: Any) -> StepScorer:
        if self.http is not None:
            return self.http
        judge = self.backend or backend
        if judge is None:
            raise VerifierError("verifier 'prm' needs a judge backend or a url")
        return JudgeStepScorer(judge)

    async def score(self, problem: Problem, samples: Sequence[Sample], backend: Any = None) -> list[Verdict]:
        scorer = self.scorer(backend)
        text = _problem_text(problem)

        async def one(s: Sample) -> Verdict:
            steps = split_steps(s.text, self.max_steps)
            if not steps:
                return self.verdict(s, label="empty", raw=json.dumps({"steps": []}))
            scores, usage = await scorer.score_steps(text, steps)
            agg = aggregate_steps(scores, self.aggregate)
            return self.verdict(s, score=agg, usage=usage,
                                raw=json.dumps({"aggregate": self.aggregate, "step_scores": scores}))

        return list(await asyncio.gather(*(one(s) for s in samples)))
