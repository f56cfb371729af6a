"""The HTTP backend against a real, fault-injecting OpenAI-compatible server on loopback
(:class:`ttscale.server.stub.StubUpstream`): retries, n-splitting, usage, log-prob
statistics, error messages without secrets, and whole `ttscale run`s surviving faults."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

import pytest

from ttscale.backends.openai import OpenAIBackend, logprob_stats
from ttscale.cli import main as cli_main
from ttscale.config import SamplingConfig
from ttscale.errors import BackendError, ConfigError
from ttscale.server.stub import StubUpstream
from ttscale.store import Store

KEY = "sk-test-SECRET-0123456789"
CFG = SamplingConfig(max_tokens=8, top_logprobs=5)


def gen(stub: StubUpstream, prompt: Any = "2+2=", n: int = 4, seed: int | None = 7,
        config: SamplingConfig = CFG, **kw: Any) -> list[Any]:
    async def go() -> list[Any]:
        b = OpenAIBackend("stub", base_url=stub.url, api_key=KEY, **{"backoff": 0.01, **kw})
        try:
            return await b.generate(prompt, n, config, seed)
        finally:
            await b.aclose()
    return asyncio.run(go())


def test_n_in_one_request_with_seed_and_shared_prompt_usage() -> None:
    with StubUpstream(answers={"a": 0.5, "b": 0.5}) as stub:
        gens = gen(stub, n=4)
    assert len(stub.requests) == 1 and stub.requests[0]["n"] == 4 and stub.requests[0]["seed"] == 7
    assert stub.requests[0]["logprobs"] == 5 and stub.requests[0]["max_tokens"] == 8
    assert len(gens) == 4 and all(g.seed == 7 and g.model == "stub" for g in gens)
    p = gens[0].usage.prompt_tokens
    assert p > 0 and gens[0].usage.cached_prompt_tokens == 0
    assert all(g.usage.prompt_tokens == 0 and g.usage.cached_prompt_tokens == p for g in gens[1:])
    assert all(g.usage.completion_tokens == 8 for g in gens)  # counted from per-token log-probs
    assert all(g.distribution == "top_k" and g.entropy_mean is not None for g in gens)


def test_chat_prompts_use_chat_completions() -> None:
    msgs = [{"role": "user", "content": "hi"}]
    with StubUpstream() as stub:
        gens = gen(stub, prompt=msgs, n=2)
    req = stub.requests[0]
    assert req["messages"] == msgs and req["logprobs"] is True and req["top_logprobs"] == 5
    assert [g.text for g in gens] == ["The answer is 42"] * 2 and gens[0].logprob_sum is not None


def test_chat_true_wraps_text_and_chat_false_renders_messages() -> None:
    with StubUpstream() as stub:
        gen(stub, prompt="hello", n=1, chat=True)
        gen(stub, prompt=[{"role": "user", "content": "hey"}], n=1, chat=False)
    assert stub.requests[0]["messages"] == [{"role": "user", "content": "hello"}]
    assert stub.requests[1]["prompt"] == "user: hey"


def test_n_rejection_falls_back_to_single_requests_and_remembers() -> None:
    with StubUpstream(reject_n=True, answers={"a": 0.5, "b": 0.5}) as stub:
        gens = gen(stub, n=3)
        first = len(stub.requests)
        again = gen(stub, n=3)
    assert first == 1 + 3  # the rejected n=3 request, then three singles
    assert len(stub.requests) - first == 3  # remembered: no second rejection
    # the singles run in parallel, so the stub records them in arrival order, not index order
    seeds = sorted(r["seed"] for r in stub.requests[1:first])
    assert len(set(seeds)) == 3 and gens[0].seed == 7  # derived, distinct seeds; index 0 keeps it
    assert sorted(g.seed for g in gens) == seeds and [g.seed for g in gens] == [g.seed for g in again]
    assert gens[0].usage.prompt_tokens > 0 and gens[1].usage.cached_prompt_tokens > 0
    assert sum(g.usage.prompt_tokens for g in gens) == gens[0].usage.prompt_tokens


def test_upstream_ignoring_n_is_completed_with_single_requests() -> None:
    with StubUpstream(ignore_n=True) as stub:
        gens = gen(stub, n=4)
    assert len(gens) == 4 and len(stub.requests) == 1 + 3


def test_n_per_request_chunks() -> None:
    with StubUpstream() as stub:
        gens = gen(stub, n=5, n_per_request=2)
    assert sorted(r["n"] for r in stub.requests) == [1, 2, 2] and len(gens) == 5


@pytest.mark.parametrize("fault", ["drop", "500", "503", "truncated", "garbage", "timeout", "status:502"])
def test_transient_faults_are_retried(fault: str) -> None:
    with StubUpstream(faults=[fault, fault], hang=3) as stub:
        gens = gen(stub, n=2, timeout=0.5)
    assert len(gens) == 2 and len(stub.requests) == 3


def test_429_honours_retry_after() -> None:
    with StubUpstream(faults=["429"], retry_after=1.0) as stub:
        t0 = time.monotonic()
        gens = gen(stub, n=2, backoff=0.0)
        elapsed = time.monotonic() - t0
    assert len(gens) == 2 and len(stub.requests) == 2
    assert elapsed >= 0.95


@pytest.mark.parametrize("fault,status,words", [
    ("500", 500, "HTTP 500"), ("429", 429, "HTTP 429"), ("truncated", 200, "invalid JSON"),
    ("drop", None, "connection error"), ("timeout", None, "timed out"),
])
def test_persistent_faults_raise_a_clear_error(fault: str, status: int | None, words: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with StubUpstream(always=fault, retry_after=0.01, hang=2) as stub:
        with pytest.raises(BackendError) as info:
            gen(stub, n=2, max_retries=2, timeout=0.3)
    err = info.value
    assert len(stub.requests) == 3
    assert err.upstream == stub.url and err.status == status
    assert stub.url in str(err) and words in str(err) and "3 attempt" in str(err)
    assert KEY not in str(err) and KEY not in caplog.text and KEY not in repr(err)


def test_client_errors_fail_at_once_and_redact_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with StubUpstream(api_key="the-right-key") as stub:
        with pytest.raises(BackendError) as info:
            gen(stub, n=2)
    assert len(stub.requests) == 0 and info.value.status == 401
    assert "Incorrect API key" in str(info.value) and KEY not in str(info.value) + caplog.text


def test_upstream_echoing_the_key_is_redacted() -> None:
    with StubUpstream(always="status:403") as stub:
        stub._send = _echo_key_send(stub._send, KEY)  # type: ignore[method-assign]
        with pytest.raises(BackendError) as info:
            gen(stub, n=1)
    assert KEY not in str(info.value) and "***" in str(info.value)


def _echo_key_send(send: Any, key: str) -> Any:
    def wrapped(writer: Any, status: int, payload: bytes, extra: str = "") -> None:
        if status != 200:
            payload = b'{"error": {"message": "bad key ' + key.encode() + b'"}}'
        send(writer, status, payload, extra)
    return wrapped


def test_model_discovery_and_pool_sharing() -> None:
    with StubUpstream(model="served-name") as stub:
        async def go() -> tuple[Any, ...]:
            a = OpenAIBackend(base_url=stub.url)
            b = OpenAIBackend("served-name", base_url=stub.url + "/")
            ga, gb = await asyncio.gather(a.generate("x", 1, CFG, 1), b.generate("y", 1, CFG, 2))
            same_pool = a._upstream() is b._upstream()
            await a.aclose()
            open_after_one = not b._upstream().closed
            await b.aclose()
            return a.model, ga[0].model, same_pool, open_after_one
        model, gmodel, same_pool, open_after_one = asyncio.run(go())
    assert model == gmodel == "served-name" and same_pool and open_after_one


def test_concurrency_limit_per_upstream() -> None:
    with StubUpstream(latency=0.05) as stub:
        async def go() -> float:
            bs = [OpenAIBackend("stub", base_url=stub.url, max_concurrency=2) for _ in range(2)]
            t0 = time.monotonic()
            await asyncio.gather(*(bs[i % 2].generate(f"p{i}", 1, CFG, i) for i in range(8)))
            for b in bs:
                await b.aclose()
            return time.monotonic() - t0
        elapsed = asyncio.run(go())
    assert elapsed >= 4 * 0.05 * 0.9  # 8 requests, 2 at a time, 50 ms each


def test_bad_configuration_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="base_url"):
        OpenAIBackend("m")
    with pytest.raises(ConfigError, match="base_url"):
        OpenAIBackend("m", base_url="ftp://x")
    with pytest.raises(ConfigError, match="max_retries"):
        OpenAIBackend("m", base_url="http://127.0.0.1:1", max_retries=-1)
    with pytest.raises(ConfigError, match="n_per_request"):
        OpenAIBackend("m", base_url="http://127.0.0.1:1", n_per_request=0)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:9")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    b = OpenAIBackend("m")
    assert b.base_url.endswith("127.0.0.1:9/v1") and "pw" not in repr(b) and KEY not in repr(b)


def test_connection_refused_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match=r"127\.0\.0\.1:9/v1/completions.*connection error"):
        asyncio.run(OpenAIBackend("m", base_url="http://127.0.0.1:9", max_retries=1,
                                  backoff=0.01).generate("x", 1, CFG, 0))


def test_logprob_stats_from_top_k() -> None:
    # two tokens; the top-2 distribution of each is uniform after renormalisation
    stats = logprob_stats([-0.5, -1.0], [[-1.0, -1.0], [-2.0, -2.0]])
    assert stats["logprob_sum"] == pytest.approx(-1.5) and stats["logprob_min"] == -1.0
    assert stats["entropy_mean"] == pytest.approx(math.log(2))
    assert stats["self_certainty_mean"] == pytest.approx(0.0)  # KL(U || uniform) = 0
    assert stats["distribution"] == "top_k"
    assert logprob_stats([-0.1], [])["distribution"] == "none"


def _run(args: list[str]) -> int:
    return cli_main(["run", "--no-progress", "--task", "facts", "--limit", "3", "-n", "4", *args])


def _keys(store_dir: Path) -> list[tuple[str, str, int]]:
    with Store(store_dir) as store:
        return sorted((s.problem_id, s.stream, s.index) for s in store.samples())


def test_run_survives_transient_faults(tmp_path: Path) -> None:
    faults = ["timeout", "429", "500", "truncated", "drop", "garbage", "503"]
    with StubUpstream(faults=faults, retry_after=0.2, hang=3, reject_n=True) as stub:
        rc = _run(["--backend", "openai", "--base-url", stub.url, "--model", "stub", "--seed", "1",
                   "--backend-option", "timeout=1", "--backend-option", "backoff=0.01",
                   "--out", str(tmp_path / "run")])
    assert rc == 0
    keys = _keys(tmp_path / "run")
    assert len(keys) == len(set(keys)) == 3 * 4 + 3  # sampled + greedy, each exactly once
    assert len(stub.requests) > 15  # faults and n-rejections cost extra requests


def test_run_with_persistent_failure_keeps_what_succeeded_then_resumes(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["--backend", "openai", "--model", "stub", "--seed", "1", "--concurrency", "1",
            "--api-key", KEY, "--backend-option", "max_retries=1", "--backend-option", "backoff=0.01",
            "--out", str(out)]
    with StubUpstream(faults=["ok"] * 4, always="500") as stub:
        rc = _run(["--base-url", stub.url, *args])
    err = capsys.readouterr().err
    assert rc == 3 and "HTTP 500" in err and stub.url in err and KEY not in err
    # one problem at a time: 3 greedy requests, then the first n=4 request, then HTTP 500s
    kept = _keys(out)
    assert len(kept) == len(set(kept)) == 3 + 4
    port = int(stub.url.rsplit(":", 1)[1].split("/")[0])
    with StubUpstream(port=port) as stub2:  # the server is back (same URL: same run config)
        assert _run(["--base-url", stub2.url, *args]) == 0
    keys = _keys(out)
    assert len(keys) == len(set(keys)) == 15 and set(kept) <= set(keys)
    assert [r["n"] for r in stub2.requests] == [4, 4]  # nothing stored is drawn again


def test_transport_factory_is_used_once_per_pool() -> None:
    import httpx

    made: list[httpx.AsyncBaseTransport] = []

    def factory() -> httpx.AsyncBaseTransport:
        made.append(httpx.AsyncHTTPTransport())
        return made[-1]

    with StubUpstream() as stub:
        gens = gen(stub, n=3, transport=factory, max_concurrency=64)
    assert len(gens) == 3 and len(made) == 1


def test_backoff_doubles_with_jitter_and_retry_after_wins() -> None:
    import email.utils

    from ttscale.backends.openai import _retry_after

    b = OpenAIBackend("stub", base_url="http://127.0.0.1:9/v1", backoff=0.5, max_backoff=4.0,
                      max_retry_after=10.0)
    for attempt, base in enumerate([0.5, 1.0, 2.0, 4.0, 4.0]):  # doubles, capped at max_backoff
        delays = [b._delay(attempt, None) for _ in range(200)]
        assert all(base / 2 <= d <= base for d in delays), (attempt, min(delays), max(delays))
        assert len(set(delays)) > 100  # jittered, not one fixed delay
    assert b._delay(0, 3.0) == 3.0 and b._delay(5, 60.0) == 10.0  # Retry-After, capped
    assert _retry_after("2.5") == 2.5 and _retry_after("soon") is None and _retry_after(None) is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (_retry_after(later) or 0) <= 31
