"""The proxy's lean upstream client (``ttscale.server.transport.LeanClient``): keep-alive reuse,
the three ways an HTTP/1.1 body ends, and the failures it must map to httpx's exceptions
(which the HTTP backend retries or reports)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ttscale.server.transport import LeanClient, lean_backend

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\": 1} \n"


class Scripted:
    """A loopback server answering the i-th request with ``script(i)``: bytes to send, then
    ``"close"`` to drop the connection or ``"hang"`` to never answer."""

    def __init__(self, script: Callable[[int], tuple[bytes, str]]) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.connections = 0

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), 0)
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                data, then = self.script(len(self.requests) - 1)
                writer.write(data)
                await writer.drain()
                if then == "close":
                    break
                if then == "hang":
                    await asyncio.sleep(30)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_keep_alive_reuses_one_connection_and_sends_path_headers_and_body() -> None:
    async def go() -> None:
        async with Scripted(lambda i: (OK, "keep")) as srv:
            client = LeanClient(srv.url, timeout=5, headers={"User-Agent": "ttscale"})
            for _ in range(3):
                resp = await client.request("POST", "/chat/completions", content=b'{"a": 1}',
                                            headers={"Authorization": "Bearer k"})
                assert resp.status_code == 200 and resp.json() == {"ok": 1}
                assert resp.headers["content-type"] == "application/json"
            await client.aclose()
            assert srv.connections == 1
            first = srv.requests[0]
            assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
            assert b"User-Agent: ttscale\r\n" in first and b"Authorization: Bearer k\r\n" in first
            assert b"Content-Length: 8\r\n" in first and first.endswith(b'\r\n\r\n{"a": 1}')
    run(go())


def test_chunked_and_close_delimited_bodies() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
               b"4\r\n{\"a\"\r\n5\r\n: 12}\r\n0\r\n\r\n")
    closing = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\n\r\nbusy, try later"

    async def go() -> None:
        async with Scripted(lambda i: (chunked, "keep") if i == 0 else (closing, "close")) as srv:
            client = LeanClient(srv.url, timeout=5)
            resp = await client.request("GET", "/models")
            assert resp.json() == {"a": 12} and "transfer-encoding" not in resp.headers
            resp = await client.request("GET", "/models")
            assert resp.status_code == 503 and resp.text == "busy, try later"
            assert resp.headers.get("retry-after") == "2" and resp.reason_phrase == "Service Unavailable"
            await client.aclose()
    run(go())


def test_a_stale_keep_alive_connection_is_retried_once_on_a_fresh_one() -> None:
    async def go() -> None:
        # the server closes after each answer without saying so: the idle connection is stale
        async with Scripted(lambda i: (OK, "close")) as srv:
            client = LeanClient(srv.url, timeout=5)
            assert (await client.request("GET", "/models")).status_code == 200
            await asyncio.sleep(0.05)
            assert (await client.request("GET", "/models")).status_code == 200
            assert srv.connections == 2
            await client.aclose()
    run(go())


@pytest.mark.parametrize("reply,error", [
    ((b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"trunc", "close"), httpx.RemoteProtocolError),
    ((b"SMTP ready\r\n\r\n", "keep"), httpx.RemoteProtocolError),
    ((b"", "close"), httpx.RemoteProtocolError),
    ((b"", "hang"), httpx.ReadTimeout),
])
def test_failures_map_to_httpx_exceptions(reply: tuple[bytes, str], error: type[Exception]) -> None:
    async def go() -> None:
        async with Scripted(lambda i: reply) as srv:
            client = LeanClient(srv.url, timeout=0.3)
            with pytest.raises(error):
                await client.request("POST", "/completions", content=b"{}")
            await client.aclose()
    run(go())


def test_connection_refused_is_connect_error() -> None:
    async def go() -> None:
        async with Scripted(lambda i: (OK, "keep")) as srv:
            url = srv.url
        client = LeanClient(url, timeout=1)
        with pytest.raises(httpx.ConnectError):
            await client.request("GET", "/models")
    run(go())


def test_lean_backend_generates_through_the_lean_client() -> None:
    from ttscale.config import SamplingConfig

    body = (b'{"model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": '
            b'"The answer is 7."}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, '
            b'"completion_tokens": 4}}')
    reply = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)

    async def go() -> None:
        async with Scripted(lambda i: (reply, "keep")) as srv:
            backend = lean_backend(model="m", base_url=srv.url, api_key="sk-x", max_retries=0)
            gens = await backend.generate([{"role": "user", "content": "hi"}], 1, SamplingConfig(max_tokens=8))
            await backend.aclose()
            assert [g.text for g in gens] == ["The answer is 7."]
            assert gens[0].usage.completion_tokens == 4
            assert b"Authorization: Bearer sk-x\r\n" in srv.requests[0]
    run(go())
