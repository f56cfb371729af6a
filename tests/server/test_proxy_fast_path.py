"""The proxy's direct completion routes (``ProxyApp``, past FastAPI's routing) answer exactly
like the same routes under FastAPI: same statuses, same OpenAI-style error bodies naming the
field, same success shape; everything else falls through to FastAPI."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import proxy_support
import pytest

from ttscale.server.app import ProxyApp, ProxyOptions, build_service, create_app

upstream = proxy_support.upstream  # module-scoped fixture

KEY = "k-fast"
CHAT = {"model": "sc4/mock-model", "messages": [{"role": "user", "content": "hi"}]}


async def both(upstream: str, requests: list[dict[str, Any]]) -> list[tuple[httpx.Response, httpx.Response]]:
    """Each request sent to the ProxyApp and to its FastAPI fallback app."""
    opts = ProxyOptions(upstream=upstream, port=0, api_key=KEY, answer="math", max_n=4, max_samples=16,
                        max_tokens=256, max_body_bytes=10_000, upstream_retries=0)
    service = build_service(opts)
    app = create_app(service, opts)
    assert isinstance(app, ProxyApp)
    out = []
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as fast, \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app.fallback), base_url="http://t") as slow:
            for req in requests:
                out.append((await fast.request(**req), await slow.request(**req)))
    finally:
        await service.aclose()
    return out


def post(body: Any = None, *, raw: bytes | None = None, key: str | None = KEY,
         path: str = "/v1/chat/completions") -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return {"method": "POST", "url": path, "headers": headers,
            "content": raw if raw is not None else json.dumps(body).encode()}


BAD = [
    (post(raw=b'{"model": "x", "messages": [}'), 400, "body"),
    (post(raw=b'"just a string"'), 400, "body"),
    (post(raw=b'{"model": "m", "prompt": "' + b"a" * 20_000 + b'"}', path="/v1/completions"), 400, "body"),
    (post({**CHAT, "n": "many"}), 400, "n"),
    (post({**CHAT, "max_tokens": 10**9}), 400, "max_tokens"),
    (post({**CHAT, "messages": [{"role": "wizard", "content": "x"}]}), 400, "messages.0.role"),
    (post({**CHAT, "ttscale": {"strategy": "sc", "bogus": 1}}), 400, "ttscale.sc.bogus"),
    (post({"model": "sc4/m", "prompt": ["a", "b"]}, path="/v1/completions"), 400, "prompt"),
    (post(CHAT, key=None), 401, None),
    (post(CHAT, key="wrong"), 401, None),
]


@pytest.mark.parametrize("req,status,param", BAD)
def test_errors_match_the_fastapi_routes(upstream: str, req: dict[str, Any], status: int,
                                         param: str | None) -> None:
    ((fast, slow),) = asyncio.run(both(upstream, [req]))
    assert fast.status_code == slow.status_code == status, fast.text
    assert fast.headers["content-type"] == "application/json"
    assert fast.json() == slow.json()
    err = fast.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"} and err["param"] == param


def test_success_has_the_same_shape_and_usage(upstream: str) -> None:
    ((fast, slow),) = asyncio.run(both(upstream, [post({**CHAT, "seed": 7})]))
    assert fast.status_code == slow.status_code == 200
    a, b = fast.json(), slow.json()
    for d in (a, b):
        d.pop("id"), d.pop("created")
    assert a == b  # seeded: the same samples, so the same answer, votes and usage
    assert a["ttscale"]["samples"] == 4 and a["usage"]["completion_tokens"] > 0
    assert int(fast.headers["content-length"]) == len(fast.content)


def test_other_methods_and_paths_fall_through_to_fastapi(upstream: str) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    reqs = [{"method": "GET", "url": "/v1/chat/completions", "headers": auth},
            {"method": "POST", "url": "/v1/nope", "headers": auth},
            {"method": "GET", "url": "/health"}]
    (get, _), (nope, _), (health, _) = asyncio.run(both(upstream, reqs))
    assert get.status_code == 405 and nope.status_code == 404
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_streaming_through_the_direct_route(upstream: str) -> None:
    ((fast, slow),) = asyncio.run(both(upstream, [post({**CHAT, "stream": True,
                                                        "stream_options": {"include_usage": True}})]))
    for resp in (fast, slow):
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        events = [x for x in resp.text.split("\n\n") if x.startswith("data: ")]
        assert events[-1] == "data: [DONE]" and '"usage"' in events[-2] and '"decision"' in events[-2]
