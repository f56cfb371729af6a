"""A lean HTTP/1.1 keep-alive client for the proxy's upstream backend.

Why: behind the proxy every client request is one upstream request, so the upstream
client's CPU is the proxy's CPU. httpx's default transport (httpcore + anyio + h11)
measured ≈1.1–1.6 ms of CPU per request here, and even over a lean transport httpx's
client layer (URL merging, ``Request`` objects, cookie extraction, auth and redirect
hooks) cost ≈0.2 ms per request — more than the proxy's own work. :class:`LeanClient` offers
the part of ``httpx.AsyncClient`` the HTTP backend uses (``request(method, path, content=,
headers=)``, ``is_closed``, ``aclose()``) and plugs in through the backend's public
``client=`` factory, so its retries, timeouts and error handling are unchanged. Each
connection is an asyncio protocol whose responses are parsed by ``httptools`` (C); the
request goes out in one ``write``.

Failures raise the httpx exceptions the backend already handles: ``ConnectError``,
``ConnectTimeout``/``ReadTimeout``, ``RemoteProtocolError`` (a dropped or garbled
connection; a *reused* keep-alive connection that turns out to be closed is retried once on
a fresh one). ``https`` upstreams go to a plain ``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import httptools
import httpx

__all__ = ["LeanClient", "LeanResponse", "lean_backend"]

log = logging.getLogger("ttscale.proxy")


class LeanResponse:
    """The part of ``httpx.Response`` the HTTP backend reads."""

    __slots__ = ("status_code", "content", "_raw", "_headers")

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], content: bytes) -> None:
        self.status_code, self._raw, self.content = status_code, raw_headers, content
        self._headers: httpx.Headers | None = None

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            self._headers = httpx.Headers(self._raw)
        return self._headers

    @property
    def reason_phrase(self) -> str:
        return httpx.codes.get_reason_phrase(self.status_code)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Conn(asyncio.Protocol):
    """One keep-alive connection: at most one request in flight; the response is parsed as
    it arrives and hands (status, headers, body, keep-alive) to the waiting request."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes, bool]] | None = None
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.status = 0
        self.headers_done = False
        self.framed = False  # Content-Length or chunked: the end is known without a close

    # ---------------------------------------------------------------- asyncio protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ValueError(f"unparseable response: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.headers_done and not self.framed:  # a body delimited by the close
            self.waiter = None
            waiter.set_result((self.status, self.headers, b"".join(self.body), False))
        else:
            waiter.set_exception(ConnectionError("the connection closed before the response ended"))

    # ---------------------------------------------------------------- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname == b"content-length" or (lname == b"transfer-encoding" and b"chunked" in value.lower()):
            self.framed = True
        if lname != b"transfer-encoding":  # the body is handed over decoded
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True
        if self.status in (204, 304) or 100 <= self.status < 200:
            self.framed = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        result = (self.status, self.headers, b"".join(self.body), self.parser.should_keep_alive())
        self._reset()
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    # ---------------------------------------------------------------------- helpers

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class LeanClient:
    """A keep-alive pool for one plain-HTTP upstream: one connection per request in flight
    (the HTTP backend's semaphore bounds them), at most ``max_idle`` idle ones kept.
    ``base_url``'s path prefixes every request path, as in ``httpx.AsyncClient``."""

    def __init__(self, base_url: str, *, timeout: float = 60.0, headers: dict[str, str] | None = None,
                 max_idle: int = 256) -> None:
        parts = urlsplit(base_url)
        self._https = parts.scheme != "http"
        self._fallback = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(timeout),
                                           headers=headers) if self._https else None
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/").encode("ascii")
        self.timeout = timeout
        self.max_idle = max_idle
        host = parts.netloc.rsplit("@", 1)[-1]
        common = {"Host": host, **(headers or {})}
        self._head = b"".join(b"%s: %s\r\n" % (k.encode("latin-1"), v.encode("latin-1"))
                              for k, v in common.items())
        self._idle: list[_Conn] = []
        self.is_closed = False

    async def request(self, method: str, path: str, *, content: bytes | None = None,
                      headers: dict[str, str] | None = None) -> Any:
        if self._fallback is not None:
            return await self._fallback.request(method, path, content=content, headers=headers)
        if self.is_closed:
            raise httpx.ConnectError("the client is closed")
        body = content or b""
        parts = [method.encode("ascii"), b" ", self.prefix, path.encode("ascii"), b" HTTP/1.1\r\n", self._head]
        for k, v in (headers or {}).items():
            parts += (k.encode("latin-1"), b": ", v.encode("latin-1"), b"\r\n")
        if body or method in ("POST", "PUT", "PATCH"):
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts += (b"\r\n", body)
        payload = b"".join(parts)
        while self._idle:
            conn = self._idle.pop()
            if conn.closed:
                continue
            try:
                return await self._exchange(conn, payload)
            except httpx.RemoteProtocolError as exc:
                if conn.body or conn.headers_done:  # it answered, then failed: not a stale connection
                    raise exc from None
            break  # a stale keep-alive connection: once more on a fresh one
        return await self._exchange(await self._connect(), payload)

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                _, conn = await loop.create_connection(_Conn, self.host, self.port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {self.host}:{self.port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {self.host}:{self.port}: "
                                     f"{exc.strerror or exc}") from None
        return conn

    async def _exchange(self, conn: _Conn, payload: bytes) -> LeanResponse:
        loop = asyncio.get_running_loop()
        waiter = conn.waiter = loop.create_future()
        timer = loop.call_later(self.timeout, _expire, waiter)
        ok = False
        try:
            assert conn.transport is not None
            conn.transport.write(payload)
            status, headers, content, keep = await waiter
            ok = keep
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the upstream's response") from None
        except (ConnectionError, ValueError) as exc:
            raise httpx.RemoteProtocolError(f"the upstream dropped or garbled the response "
                                            f"({type(exc).__name__}: {exc})") from None
        finally:
            timer.cancel()
            if ok and not conn.closed and not self.is_closed and len(self._idle) < self.max_idle:
                self._idle.append(conn)
            else:
                conn.close()
        return LeanResponse(status, headers, content)

    async def aclose(self) -> None:
        self.is_closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.aclose()


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def lean_backend(**kwargs: Any) -> Any:
    """An :class:`~ttscale.backends.openai.OpenAIBackend` whose upstream pool is a
    :class:`LeanClient` (through the backend's public ``client=`` factory). Everything else
    (retries, n-splitting, parsing, key redaction, one pool per upstream shared by all its
    backends) is the HTTP backend's own."""
    from ..backends.openai import OpenAIBackend

    limit = int(kwargs.get("max_concurrency") or 64)

    def client(base_url: str, timeout: float, headers: dict[str, str]) -> LeanClient:
        return LeanClient(base_url, timeout=timeout, headers=headers, max_idle=limit)

    return OpenAIBackend(**kwargs, client=client)
