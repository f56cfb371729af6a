"""The proxy in front of the real model host (``ttscale serve --model``, Gemma 3 270M) through
the official ``openai`` client, with a recording forwarder between them that sums the usage
of every upstream call."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from proxy_support import proxy_thread

pytestmark = pytest.mark.model

PROMPT = "Country: Japan\nCapital: Tokyo\nCountry: Italy\nCapital: Rome\nCountry: France\nCapital:"


@pytest.fixture(scope="module")
def recorder(model_host_url: str) -> Iterator[tuple[str, dict[str, int]]]:
    """A pass-through HTTP server in front of the model host that counts calls and usage."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    totals = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}

    async def forward(request: Request) -> Response:
        async with httpx.AsyncClient(timeout=300) as c:
            r = await c.request(request.method, model_host_url + request.url.path.removeprefix("/v1"),
                                content=await request.body(),
                                headers={"content-type": request.headers.get("content-type", "application/json")})
        if request.method == "POST" and r.status_code == 200:
            usage: dict[str, Any] = r.json().get("usage") or {}
            totals["calls"] += 1
            totals["prompt_tokens"] += usage.get("prompt_tokens", 0)
            totals["completion_tokens"] += usage.get("completion_tokens", 0)
        return Response(r.content, status_code=r.status_code, media_type="application/json")

    app = Starlette(routes=[Route("/v1/{path:path}", forward, methods=["GET", "POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", totals
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def real_proxy(recorder: tuple[str, dict[str, int]]) -> Iterator[tuple[openai.OpenAI, str]]:
    url, _ = recorder
    model = httpx.get(url + "/models", timeout=60).json()["data"][0]["id"]
    with proxy_thread(url, answer="text", max_tokens=16) as proxy:
        yield openai.OpenAI(base_url=proxy, api_key="x", max_retries=0, timeout=300), model


def test_chat_prefix_strategy_against_the_real_model(real_proxy: tuple[openai.OpenAI, str],
                                                     recorder: tuple[str, dict[str, int]]) -> None:
    client, model = real_proxy
    before = dict(recorder[1])
    r = client.chat.completions.create(model=f"sc4/{model}", messages=[{"role": "user", "content": PROMPT}],
                                       max_tokens=8, stop=["\n"], seed=3)
    info = r.model_extra["ttscale"]
    assert info["samples"] == 4 and info["strategy"] == "sc:n=4"
    assert r.choices[0].message.content
    after = recorder[1]
    assert after["calls"] - before["calls"] == 1
    assert r.usage.prompt_tokens == after["prompt_tokens"] - before["prompt_tokens"]
    assert r.usage.completion_tokens == after["completion_tokens"] - before["completion_tokens"]


def test_completion_stream_with_extra_body_strategy(real_proxy: tuple[openai.OpenAI, str],
                                                    recorder: tuple[str, dict[str, int]]) -> None:
    client, model = real_proxy
    before = dict(recorder[1])
    chunks = list(client.completions.create(
        model=model, prompt=PROMPT, max_tokens=8, stop=["\n"], stream=True, seed=5,
        stream_options={"include_usage": True}, extra_body={"ttscale": {"strategy": "sc", "n": 3}}))
    decision = chunks[-1].model_extra["ttscale"]["decision"]
    assert decision["samples"] == 3
    usage = chunks[-1].usage
    after = recorder[1]
    assert usage.prompt_tokens == after["prompt_tokens"] - before["prompt_tokens"]
    assert usage.completion_tokens == after["completion_tokens"] - before["completion_tokens"]
    assert "".join(c.choices[0].text for c in chunks if c.choices) != "" or decision["answer"] is None
