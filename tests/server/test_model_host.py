"""The model host's HTTP contract, served for real by uvicorn on loopback. A scripted backend
stands in for the model here (fast, deterministic); the real embedded model is exercised
over HTTP in ``tests/backends/test_backend_openai_host.py``."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from ttscale.backends.mock import MockBackend
from ttscale.commands.serve import bind_socket
from ttscale.config import SamplingConfig
from ttscale.server.model_host import create_app
from ttscale.server.wire import ServerLimits


class CountingBackend(MockBackend):
    """MockBackend that records every generate call (n, seed) and can be slowed down."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(default={"a": 0.5, "b": 0.5}, model="mock-model", **kw)
        self.log: list[tuple[int, int | None, SamplingConfig]] = []

    async def generate(self, prompt: Any, n: int, config: SamplingConfig, seed: int | None = None) -> Any:
        self.log.append((n, seed, config))
        await asyncio.sleep(0.05)
        return await super().generate(prompt, n, config, seed)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def host() -> Iterator[tuple[str, CountingBackend]]:
    backend = CountingBackend()
    app = create_app(backend, limits=ServerLimits(max_n=16, max_tokens=64, max_body_bytes=20_000),
                     batch_window=0.05)
    with serve(app) as url:
        yield url, backend


@pytest.fixture(scope="module")
def secured() -> Iterator[str]:
    with serve(create_app(CountingBackend(), api_key="host-key")) as url:
        yield url


def post(url: str, path: str, body: Any, **kw: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(url + path, content=content, headers={"Content-Type": "application/json"},
                      timeout=10, **kw)


def test_health_and_models(host: tuple[str, CountingBackend]) -> None:
    url, _ = host
    assert httpx.get(url.removesuffix("/v1") + "/health").json() == {"status": "ok", "model": "mock-model"}
    data = httpx.get(url + "/models").json()
    assert data["object"] == "list" and [m["id"] for m in data["data"]] == ["mock-model"]


def test_completion_passes_request_straight_to_the_backend(host: tuple[str, CountingBackend]) -> None:
    url, backend = host
    body = {"model": "mock-model", "prompt": "Q: x\nA:", "n": 3, "seed": 11, "max_tokens": 7,
            "temperature": 0.7, "top_p": 0.9, "stop": "\n", "logprobs": 2}
    r = post(url, "/completions", body)
    assert r.status_code == 200, r.text
    data = r.json()
    n, seed, config = backend.log[-1]
    assert (n, seed) == (3, 11)
    assert config == SamplingConfig(max_tokens=7, temperature=0.7, top_p=0.9, stop=("\n",),
                                    logprobs=True, top_logprobs=2)
    direct = asyncio.run(MockBackend(default={"a": 0.5, "b": 0.5}, model="m").generate(
        "Q: x\nA:", 3, config, 11))
    assert [c["text"] for c in data["choices"]] == [g.text for g in direct]
    assert [c["ttscale"]["logprob_sum"] for c in data["choices"]] == [g.logprob_sum for g in direct]
    usage = data["usage"]
    assert usage["completion_tokens"] == sum(g.usage.completion_tokens for g in direct)
    assert usage["prompt_tokens"] == direct[0].usage.prompt_tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_completion(host: tuple[str, CountingBackend]) -> None:
    url, backend = host
    r = post(url, "/chat/completions", {"model": "mock-model", "n": 2, "seed": 3, "logprobs": True,
                                        "top_logprobs": 3, "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "chat.completion" and len(data["choices"]) == 2
    assert data["choices"][0]["message"]["role"] == "assistant"
    assert backend.log[-1][2].top_logprobs == 3


def test_identical_seeded_requests_are_computed_once(host: tuple[str, CountingBackend]) -> None:
    url, backend = host
    body = {"model": "mock-model", "prompt": "same", "n": 2, "seed": 99}

    async def go() -> list[Any]:
        async with httpx.AsyncClient() as c:
            rs = await asyncio.gather(*(c.post(url + "/completions", json=body) for _ in range(4)))
        return [r.json()["choices"] for r in rs]

    before = len(backend.log)
    results = asyncio.run(go())
    assert len(backend.log) - before == 1
    assert all(r == results[0] for r in results)


def test_unseeded_requests_are_merged(host: tuple[str, CountingBackend]) -> None:
    url, backend = host

    async def go() -> list[Any]:
        async with httpx.AsyncClient() as c:
            rs = await asyncio.gather(*(c.post(url + "/completions", json={
                "model": "mock-model", "prompt": "merge me", "n": k}) for k in (1, 2, 3)))
        return [r.json() for r in rs]

    before = len(backend.log)
    results = asyncio.run(go())
    calls = backend.log[before:]
    assert [n for n, _, _ in calls] == [6] and calls[0][1] is None  # one batch, unseeded
    assert sorted(len(r["choices"]) for r in results) == [1, 2, 3]
    cached = sorted(r["usage"]["prompt_tokens_details"]["cached_tokens"] for r in results)
    assert cached[0] == 0 and cached[1] == cached[2] > 0  # only one request paid for the prompt


@pytest.mark.parametrize("body,param", [
    ({"model": "mock-model", "prompt": "x", "max_tokens": -5}, "max_tokens"),
    ({"model": "mock-model", "prompt": "x", "max_tokens": 65}, "max_tokens"),
    ({"model": "mock-model", "prompt": "x", "n": 0}, "n"),
    ({"model": "mock-model", "prompt": "x", "n": 17}, "n"),
    ({"model": "nope", "prompt": "x"}, "model"),
    ({"model": "mock-model", "prompt": "x", "temperature": -1}, "temperature"),
    ({"model": "mock-model", "prompt": "x", "n": "many"}, "n"),
    ({"model": "mock-model"}, "prompt"),
    ({"model": "mock-model", "prompt": ["a", "b"]}, "prompt"),
    ({"model": "mock-model", "prompt": "x", "stream": True}, "stream"),
    ({"model": "mock-model", "prompt": "x", "seed": 2**70}, "seed"),
    ({"model": "mock-model", "prompt": "x", "logprobs": 21}, "logprobs"),
    ({"model": "mock-model", "prompt": "x", "stop": 5}, "stop"),
    ([1, 2], "body"),
])
def test_invalid_requests_get_400_naming_the_field(host: tuple[str, CountingBackend], body: Any,
                                                   param: str) -> None:
    r = post(host[0], "/completions", body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and err["type"] == "invalid_request_error" and err["message"]


@pytest.mark.parametrize("body,param", [
    ({"model": "mock-model", "messages": []}, "messages"),
    ({"model": "mock-model", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
    ({"model": "mock-model", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 0},
     "max_completion_tokens"),
    ({"model": "mock-model", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 2},
     "top_logprobs"),
])
def test_invalid_chat_requests(host: tuple[str, CountingBackend], body: Any, param: str) -> None:
    r = post(host[0], "/chat/completions", body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_malformed_json_and_oversized_bodies(host: tuple[str, CountingBackend]) -> None:
    url, _ = host
    r = post(url, "/completions", b'{"model": "mock-model", "prompt": ')
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    assert r.json()["error"]["param"] == "body"
    big = {"model": "mock-model", "prompt": "x" * 30_000}
    r = post(url, "/completions", big)
    assert r.status_code == 400 and r.json()["error"]["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        yield b'{"model": "mock-model", "prompt": "'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"}'

    r = httpx.post(url + "/completions", content=chunks(), timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "request_too_large"
    assert httpx.get(url.removesuffix("/v1") + "/health").status_code == 200  # still up


def test_bearer_auth(secured: str) -> None:
    body = {"model": "mock-model", "prompt": "x"}
    assert post(secured, "/completions", body).status_code == 401
    wrong = httpx.post(secured + "/completions", json=body, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    r = httpx.post(secured + "/completions", json=body, headers={"Authorization": "Bearer host-key"})
    assert r.status_code == 200
    assert httpx.get(secured + "/models").status_code == 401
    assert httpx.get(secured.removesuffix("/v1") + "/health").status_code == 200


def test_openai_client_against_the_host(host: tuple[str, CountingBackend]) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=host[0], api_key="unused")
    r = client.completions.create(model="mock-model", prompt="x", n=2, seed=1, max_tokens=5)
    assert len(r.choices) == 2 and r.usage is not None and r.usage.completion_tokens > 0
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model="mock-model", prompt="x", n=0)
    assert info.value.body["param"] == "n"  # type: ignore[index]


def test_serve_refuses_public_bind_without_key() -> None:
    r = subprocess.run([sys.executable, "-m", "ttscale", "serve", "--backend", "mock", "--model",
                        "m", "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--api-key" in r.stderr and "host" in r.stderr


def test_serve_cli_with_mock_backend() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "ttscale", "serve", "--backend", "mock", "--model",
                             "m", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.rsplit("listening on ", 1)[1].strip()
        r = httpx.post(url + "/completions", json={"model": "m", "prompt": "x", "n": 2}, timeout=10)
        assert r.status_code == 200 and len(r.json()["choices"]) == 2
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "ttscale", "serve", "--backend", "mock", "--model", "m",
                            "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"127.0.0.1:{port}" in r.stderr


def test_http_backend_through_the_host_equals_the_backend(host: tuple[str, CountingBackend]) -> None:
    """Seeded requests pass straight through and the ``ttscale`` choice extension carries the
    exact statistics, so the HTTP backend returns what the backend returned."""
    from ttscale.backends.openai import OpenAIBackend

    config = SamplingConfig(max_tokens=9, temperature=0.8)
    direct = asyncio.run(MockBackend(default={"a": 0.5, "b": 0.5}, model="mock-model").generate(
        "abc", 5, config, 123))

    async def remote() -> list[Any]:
        backend = OpenAIBackend(base_url=host[0])
        try:
            return await backend.generate("abc", 5, config, 123)
        finally:
            await backend.aclose()

    over_http = asyncio.run(remote())
    for a, b in zip(direct, over_http, strict=True):
        assert b.model_dump(exclude={"latency"}) == a.model_dump(exclude={"latency"})


def test_http_backend_learns_the_hosts_n_cap(host: tuple[str, CountingBackend]) -> None:
    """The host answers n above --max-n with 400 param "n" ("must be <= 16"); the HTTP
    backend then asks for at most 16 per request instead of failing or going one by one."""
    from ttscale.backends.openai import OpenAIBackend

    url, backend = host

    async def remote() -> list[Any]:
        b = OpenAIBackend(base_url=url)
        try:
            return await b.generate("cap", 20, SamplingConfig(max_tokens=4), 5)
        finally:
            await b.aclose()

    before = len(backend.log)
    gens = asyncio.run(remote())
    assert len(gens) == 20
    assert sorted(n for n, _, _ in backend.log[before:]) == [4, 16]
