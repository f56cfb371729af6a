"""The proxy through the official ``openai`` client, in front of the recording upstream:
chat and completions, streamed and not, strategies chosen by model prefix and by
``extra_body``, and usage equal to what the upstream actually counted."""

from __future__ import annotations

import json
import re

import httpx
import openai
import proxy_support
import pytest
from proxy_support import upstream_reset, upstream_stats

upstream = proxy_support.upstream  # module-scoped fixtures
proxy = proxy_support.proxy

ANSWER = re.compile(r"The answer is (\w+)")


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=30)


def test_chat_sc8_prefix_returns_the_majority_and_counts_every_token(proxy: str, upstream: str) -> None:
    upstream_reset(upstream)
    r = client(proxy).chat.completions.create(
        model="sc8/mock-model", messages=[{"role": "user", "content": "[q:a1] What is it?"}])
    info = r.model_extra["ttscale"]
    assert info["strategy"] == "sc:n=8" and info["samples"] == 8 and info["upstream_model"] == "mock-model"
    votes = info["votes"]
    assert sum(votes.values()) == 8
    assert info["answer"] == max(votes, key=lambda a: votes[a])
    assert votes[info["answer"]] == max(votes.values())
    assert info["confidence"] == pytest.approx(votes[info["answer"]] / 8)
    assert ANSWER.findall(r.choices[0].message.content)[-1] == info["answer"]
    assert r.model == "sc8/mock-model" and r.choices[0].finish_reason == "stop"
    stats = upstream_stats(upstream)
    assert stats["calls"] == 1 and stats["choices"] == 8  # one n=8 request, not eight
    assert r.usage.prompt_tokens == stats["prompt_tokens"]
    assert r.usage.completion_tokens == stats["completion_tokens"]
    assert r.usage.total_tokens == stats["prompt_tokens"] + stats["completion_tokens"]


def test_completions_with_extra_body_strategy(proxy: str, upstream: str) -> None:
    upstream_reset(upstream)
    r = client(proxy).completions.create(
        model="mock-model", prompt="[q:b1] Compute.", max_tokens=32,
        extra_body={"ttscale": {"strategy": "sc", "n": 5}})
    info = r.model_extra["ttscale"]
    assert info["strategy"] == "sc:n=5" and info["samples"] == 5
    assert ANSWER.findall(r.choices[0].text)[-1] == info["answer"]
    stats = upstream_stats(upstream)
    assert (stats["calls"], stats["choices"]) == (1, 5)
    assert r.usage.prompt_tokens + r.usage.completion_tokens == stats["prompt_tokens"] + stats["completion_tokens"]


def test_adaptive_strategy_usage_sums_all_upstream_calls(proxy: str, upstream: str) -> None:
    """An adaptive rule draws in several batches: usage must add up every one of them."""
    upstream_reset(upstream)
    r = client(proxy).chat.completions.create(
        model="mock-model", messages=[{"role": "user", "content": "[q:c1] [dist:12=0.5,7=0.5] Hm?"}],
        extra_body={"ttscale": {"strategy": "beta", "max_samples": 16, "batch": 2}})
    info = r.model_extra["ttscale"]
    stats = upstream_stats(upstream)
    assert info["samples"] == stats["choices"] and stats["calls"] >= 2
    assert r.usage.prompt_tokens == stats["prompt_tokens"]
    assert r.usage.completion_tokens == stats["completion_tokens"]


def test_regex_extraction_per_request(proxy: str) -> None:
    r = client(proxy).chat.completions.create(
        model="sc4/mock-model", messages=[{"role": "user", "content": "[dist:x=0.9,y=0.1] q"}],
        extra_body={"ttscale": {"regex": r"answer is (\w)"}}, seed=7)
    assert r.model_extra["ttscale"]["answer"] in ("x", "y")


def test_free_form_requests_use_universal_self_consistency(upstream: str) -> None:
    from proxy_support import proxy_thread

    with proxy_thread(upstream) as url:  # no --answer: requests are free-form by default
        upstream_reset(upstream)
        r = client(url).chat.completions.create(
            model="sc4/mock-model", messages=[{"role": "user", "content": "Write a line."}])
    info = r.model_extra["ttscale"]
    assert info["strategy"].startswith("usc")
    stats = upstream_stats(upstream)
    assert stats["calls"] >= 2  # the candidates, then the model's pick
    assert r.usage.prompt_tokens == stats["prompt_tokens"]
    assert r.usage.completion_tokens == stats["completion_tokens"]
    assert r.choices[0].message.content


def test_chat_stream_with_usage(proxy: str, upstream: str) -> None:
    upstream_reset(upstream)
    stream = client(proxy).chat.completions.create(
        model="sc8/mock-model", messages=[{"role": "user", "content": "[q:d1] Go."}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) >= 2  # a real stream of deltas, not one blob
    text = "".join(content)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    assert chunks[0].choices[0].delta.role == "assistant"
    last = chunks[-1]
    assert not last.choices and last.usage is not None
    decision = last.model_extra["ttscale"]["decision"]
    assert ANSWER.findall(text)[-1] == decision["answer"]
    stats = upstream_stats(upstream)
    assert last.usage.prompt_tokens == stats["prompt_tokens"]
    assert last.usage.completion_tokens == stats["completion_tokens"]


def test_completion_stream_without_usage(proxy: str) -> None:
    chunks = list(client(proxy).completions.create(model="sc4/mock-model", prompt="Go.", max_tokens=16,
                                                   stream=True))
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices).startswith("Let me think")


def test_stream_progress_events_arrive_before_the_answer(proxy: str) -> None:
    with httpx.stream("POST", proxy + "/chat/completions", timeout=30, json={
            "model": "sc8/mock-model", "messages": [{"role": "user", "content": "Go."}], "stream": True,
            "ttscale": {"progress": True}}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    kinds = ["progress" if "progress" in (p.get("ttscale") or {}) else
             "content" if p["choices"] and p["choices"][0]["delta"].get("content") else "other" for p in parsed]
    assert "progress" in kinds and kinds.index("progress") < kinds.index("content")
    progress = next(p["ttscale"]["progress"] for p in parsed if "progress" in (p.get("ttscale") or {}))
    assert progress["samples"] == 8 and sum(progress["answers"].values()) == 8


def test_n_choices_are_independent_decisions(proxy: str, upstream: str) -> None:
    upstream_reset(upstream)
    r = client(proxy).chat.completions.create(model="sc4/mock-model", n=2,
                                              messages=[{"role": "user", "content": "x"}])
    assert [c.index for c in r.choices] == [0, 1]
    info = r.model_extra["ttscale"]
    assert info["samples"] == 8 and len(info["choices"]) == 2
    assert upstream_stats(upstream)["calls"] == 2


def test_models_lists_strategy_prefixes(proxy: str) -> None:
    ids = {m.id for m in client(proxy).models.list().data}
    assert {"mock-model", "sc8/mock-model", "adaptive/mock-model", "rpc16/mock-model"} <= ids


def test_health(proxy: str) -> None:
    data = httpx.get(proxy.removesuffix("/v1") + "/health").json()
    assert data["status"] == "ok" and data["inflight"] == 0


def test_seeded_requests_reproduce(proxy: str) -> None:
    c = client(proxy)
    a, b = (c.chat.completions.create(model="sc8/mock-model", seed=11,
                                      messages=[{"role": "user", "content": "same"}]) for _ in range(2))
    assert a.model_extra["ttscale"]["votes"] == b.model_extra["ttscale"]["votes"]
    assert a.choices[0].message.content == b.choices[0].message.content
