"""Invalid and hostile requests get documented OpenAI-style 4xx errors naming the field, and
the proxy stays up; upstream failures become 502/504 without leaking the upstream key.

Documented statuses (see ``ttscale.server.app``): 400 invalid body or field (``param`` names
it; ``code`` ``request_too_large`` for an oversized body), 401 missing/wrong key, 429 per-key
concurrency, 502 upstream error, 504 upstream timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import proxy_support
import pytest
from proxy_support import fake_upstream, proxy_thread

upstream = proxy_support.upstream  # module-scoped fixture

KEY = "proxy-key-123"
CHAT = {"model": "sc4/mock-model", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def keyed(upstream: str) -> Iterator[str]:
    with proxy_thread(upstream, api_key=KEY, answer="math", max_n=4, max_samples=16, max_tokens=256,
                      max_body_bytes=100_000) as url:
        yield url


def post(url: str, body: object = None, *, raw: bytes | None = None, key: str | None = KEY,
         path: str = "/chat/completions") -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if raw is not None:
        headers["Content-Type"] = "application/json"
        return httpx.post(url + path, content=raw, headers=headers, timeout=30)
    return httpx.post(url + path, json=body, headers=headers, timeout=30)


def error(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    return err  # type: ignore[no-any-return]


@pytest.mark.parametrize("body,param", [
    ({**CHAT, "n": "many"}, "n"),
    ({**CHAT, "n": 1000}, "n"),
    ({**CHAT, "max_tokens": 10**9}, "max_tokens"),
    ({**CHAT, "max_tokens": -1}, "max_tokens"),
    ({**CHAT, "temperature": "hot"}, "temperature"),
    ({**CHAT, "messages": "hello"}, "messages"),
    ({**CHAT, "messages": []}, "messages"),
    ({**CHAT, "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
    ({"messages": CHAT["messages"]}, "model"),
    ({**CHAT, "model": "sc1000/mock-model"}, "model"),
    ({**CHAT, "model": "greedy4/mock-model"}, "model"),
    ({**CHAT, "ttscale": {"strategy": "nope"}}, "ttscale.strategy"),
    ({**CHAT, "ttscale": {"strategy": "sc", "bogus": 1}}, "ttscale.sc.bogus"),
    ({**CHAT, "ttscale": {"strategy": "sc", "n": 0}}, "ttscale.sc.n"),
    ({**CHAT, "ttscale": {"regex": "(unclosed"}}, "ttscale.regex"),
    ({**CHAT, "ttscale": {"answer": "poetry"}}, "ttscale.answer"),
    ({**CHAT, "ttscale": "sc"}, "ttscale"),
    ({**CHAT, "stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
    ([1, 2, 3], "body"),
])
def test_invalid_fields_get_400_naming_the_field(keyed: str, body: object, param: str) -> None:
    assert error(post(keyed, body), 400)["param"] == param


def test_malformed_json_and_huge_body(keyed: str) -> None:
    assert error(post(keyed, raw=b'{"model": "x", "messages": [}'), 400)["param"] == "body"
    big = b'{"model": "m", "prompt": "' + b"a" * 10_000_000 + b'"}'
    err = error(post(keyed, raw=big, path="/completions"), 400)
    assert err["code"] == "request_too_large"
    assert post(keyed, CHAT).status_code == 200  # still up


def test_missing_or_wrong_key_is_401(keyed: str) -> None:
    assert error(post(keyed, CHAT, key=None), 401)["code"] == "invalid_api_key"
    assert error(post(keyed, CHAT, key="wrong"), 401)["code"] == "invalid_api_key"
    assert httpx.get(keyed + "/models").status_code == 401
    assert httpx.get(keyed.removesuffix("/v1") + "/health").status_code == 200


def test_unknown_route_and_method(keyed: str) -> None:
    assert httpx.get(keyed + "/chat/completions", headers={"Authorization": f"Bearer {KEY}"}).status_code == 405
    assert httpx.post(keyed + "/nope").status_code == 404


def test_non_loopback_bind_requires_a_key(upstream: str) -> None:
    from ttscale.errors import ConfigError
    from ttscale.server.app import ProxyOptions, make_server

    with pytest.raises(ConfigError) as exc:
        make_server(ProxyOptions(upstream=upstream, host="0.0.0.0", port=0))
    assert exc.value.field == "host"


def test_per_key_concurrency_limit_is_429() -> None:
    with fake_upstream(latency_ms=400) as slow, proxy_thread(slow, answer="math", max_concurrency_per_key=2) as url:
        async def burst() -> list[int]:
            async with httpx.AsyncClient(timeout=30) as c:
                rs = await asyncio.gather(*[c.post(url + "/chat/completions", json=CHAT) for _ in range(5)])
            return [r.status_code for r in rs]

        codes = asyncio.run(burst())
        assert codes.count(200) == 2 and codes.count(429) == 3
        assert httpx.post(url + "/chat/completions", json=CHAT, timeout=30).status_code == 200


def test_upstream_down_is_502_and_the_key_never_leaks() -> None:
    with fake_upstream() as up:
        dead = up  # the port is free once the upstream is gone
    secret = "sk-upstream-very-secret"
    with proxy_thread(dead, answer="math", upstream_api_key=secret, upstream_retries=0) as url:
        resp = httpx.post(url + "/chat/completions", json=CHAT, timeout=30)
        err = error(resp, 502)
        assert err["type"] == "upstream_error" and "127.0.0.1" in str(err["message"])
        assert secret not in resp.text
        assert httpx.get(url.removesuffix("/v1") + "/health").json()["status"] == "ok"


def test_upstream_timeout_is_504() -> None:
    with fake_upstream(latency_ms=3000) as slow, \
            proxy_thread(slow, answer="math", upstream_timeout=0.3, upstream_retries=0) as url:
        err = error(httpx.post(url + "/chat/completions", json=CHAT, timeout=30), 504)
        assert err["code"] == "upstream_timeout"


def test_upstream_failure_while_streaming_progress_is_an_error_event() -> None:
    with fake_upstream() as up:
        dead = up
    with proxy_thread(dead, answer="math", upstream_retries=0) as url:
        body = {**CHAT, "stream": True, "ttscale": {"progress": True}}
        with httpx.stream("POST", url + "/chat/completions", json=body, timeout=30) as resp:
            lines = [x for x in resp.iter_lines() if x.startswith("data: ")]
        assert resp.status_code == 200 and '"error"' in lines[-1] and "upstream_error" in lines[-1]
        # without progress events the decision comes first, so the status says it
        body = {**CHAT, "stream": True}
        assert httpx.post(url + "/chat/completions", json=body, timeout=30).status_code == 502
