"""The P(True) judge and GenRM against the real embedded model, in-process and over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ttscale.registry import verifiers
from ttscale.types import Problem, Sample, Usage

pytestmark = pytest.mark.model

PROBLEM = Problem(id="cap-fr", prompt="What is the capital of France?", answers=["Paris"])
TEXTS = ["The capital of France is Paris.", "The capital of France is Berlin."]


def _samples() -> list[Sample]:
    return [Sample(problem_id=PROBLEM.id, index=i, text=t, usage=Usage(completion_tokens=8))
            for i, t in enumerate(TEXTS)]


def test_judge_reads_p_yes_from_the_embedded_model(embedded_backend: Any) -> None:
    out = asyncio.run(verifiers.create("judge").score(PROBLEM, _samples(), backend=embedded_backend))
    assert len(out) == 2
    for v in out:
        raw = json.loads(v.raw)
        assert raw["method"] == "logprobs" and 0.0 < v.score < 1.0
        assert v.usage.prompt_tokens > 10 and v.verifier == "judge"
    # deterministic: a second run gives the same scores
    again = asyncio.run(verifiers.create("judge").score(PROBLEM, _samples(), backend=embedded_backend))
    assert [v.score for v in again] == pytest.approx([v.score for v in out])


def test_genrm_on_the_embedded_model(embedded_backend: Any) -> None:
    genrm = verifiers.create("genrm", chains=2, max_tokens=12)
    out = asyncio.run(genrm.score(PROBLEM, _samples()[:1], backend=embedded_backend))
    raw = json.loads(out[0].raw)
    assert raw["method"] == "logprobs" and len(raw["chains"]) == 2
    assert 0.0 <= out[0].score <= 1.0
    # the chains' tokens and the verdict prefills are all counted
    assert out[0].usage.completion_tokens >= 2 and out[0].usage.prompt_tokens > 20


def test_judge_and_genrm_over_http(model_host_url: str) -> None:
    from ttscale.backends.openai import OpenAIBackend

    async def go() -> tuple[list[Any], list[Any]]:
        backend = OpenAIBackend(base_url=model_host_url)
        try:
            judge = await verifiers.create("judge", max_tokens=3).score(PROBLEM, _samples(), backend=backend)
            genrm = await verifiers.create("genrm", chains=2, max_tokens=8).score(PROBLEM, _samples()[:1],
                                                                              backend=backend)
            return judge, genrm
        finally:
            await backend.aclose()

    judge, genrm = asyncio.run(go())
    for v in judge:
        raw = json.loads(v.raw)
        assert raw["method"] == "parse" and len(raw["texts"]) == 1
        assert v.score in (0.0, 1.0, None) and v.usage.completion_tokens >= 1
    raw = json.loads(genrm[0].raw)
    assert raw["method"] == "parse" and len(raw["texts"]) == 2
    assert genrm[0].usage.completion_tokens >= 2
