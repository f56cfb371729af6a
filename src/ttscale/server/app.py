"""The strategy proxy's HTTP layer: FastAPI routes, limits, auth, lifecycle (``ttscale serve --upstream``).

Routes: ``POST /v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models``,
``GET /health``. The two completion routes are the hot path, served by a small ASGI front
(:class:`ProxyApp`) without FastAPI's routing, middleware and dependency machinery (which
cost about as much CPU per request as the proxy's own work); every other path, method and
the lifespan go to the FastAPI app. Both share the same handler, the same error mapping
(:func:`~.wire.error_for`) and the same limits. Bodies are validated once, by the proxy's
wire models in :func:`~.serving.plan_request`, and responses are pre-encoded bytes.

Limits and safety, in the order they apply:

* bearer key (``--api-key``): 401 without it; required to bind beyond loopback;
* per-key concurrency (``--max-concurrency-per-key``): 429 ``rate_limit_exceeded`` beyond it
  (the key is the bearer token, or the client address when the proxy has no key);
* body size (``--max-body-bytes``): 400 ``request_too_large``, refused before reading;
* malformed JSON, wrong types, ``n`` over ``--max-n``, ``max_tokens`` over ``--max-tokens``,
  a strategy budget over ``--max-samples``, unknown strategies or parameters: 400 naming the
  field (``param``);
* upstream failures after the HTTP backend's retries: 502 ``upstream_error``, 504
  ``upstream_timeout``; the upstream key is never echoed (the backend redacts it).

Shutdown (SIGINT/SIGTERM) stops accepting connections, lets in-flight requests finish
(up to ``--shutdown-timeout`` seconds), then closes the upstream pool and the decision log.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response, StreamingResponse

from ..errors import BackendError, ConfigError
from .serving import ProxyService, ProxySettings, now, render_response, stream_events
from .wire import (
    WireError,
    check_bearer,
    error_for,
    install_error_handlers,
    read_json,
    require_safe_bind,
)

__all__ = ["ProxyOptions", "ProxyApp", "build_service", "create_app", "make_server", "run_proxy"]

log = logging.getLogger("ttscale.proxy")


@dataclass(frozen=True)
class ProxyOptions:
    """Everything ``ttscale serve --upstream`` configures (see :func:`options_from_args`)."""

    upstream: str
    upstream_api_key: str | None = None
    strategy: str = "sc:n=8"
    answer: str | None = None
    log_store: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    max_n: int = 8
    max_samples: int = 64
    max_tokens: int = 4096
    max_body_bytes: int = 1_000_000
    max_concurrency_per_key: int = 256
    upstream_concurrency: int = 256
    upstream_timeout: float = 120.0
    upstream_retries: int = 2
    shutdown_timeout: float = 30.0
    access_log: bool = False


def options_from_args(args: Any) -> ProxyOptions:
    """ProxyOptions from parsed CLI flags; flags a CLI does not define keep their defaults."""
    fields = ProxyOptions.__dataclass_fields__
    values = {}
    for name in fields:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    if not values.get("upstream"):
        raise ConfigError("upstream", "the proxy needs --upstream URL (an OpenAI-compatible server)")
    return ProxyOptions(**values)


def build_service(opts: ProxyOptions) -> ProxyService:
    """The proxy's service: settings, the HTTP backend factory (validated now, so a bad
    URL fails at startup), the optional decision log, and the default strategy checked."""
    from ..store import Store
    from .serving import plan_request
    from .transport import lean_backend

    settings = ProxySettings(upstream=opts.upstream, default_strategy=opts.strategy,
                             default_answer=opts.answer, max_n=opts.max_n,
                             max_samples=opts.max_samples, max_tokens=opts.max_tokens)
    for name in ("max_n", "max_samples", "max_tokens", "max_body_bytes", "max_concurrency_per_key",
                 "upstream_concurrency"):
        if getattr(opts, name) < 1:
            raise ConfigError(name, f"must be >= 1 (got {getattr(opts, name)})")
    if opts.answer is not None and opts.answer not in ("math", "choice", "code", "text", "free"):
        raise ConfigError("answer", f"must be math, choice, code, text or free (got {opts.answer!r})")

    def factory(model: str) -> Any:
        return lean_backend(model=model, base_url=opts.upstream, api_key=opts.upstream_api_key,
                            max_concurrency=opts.upstream_concurrency, timeout=opts.upstream_timeout,
                            max_retries=opts.upstream_retries)

    factory("probe")  # URL and limits validated here, not on the first request
    try:  # the default strategy must be valid before the first request needs it
        plan_request({"model": "m", "prompt": "x"}, chat=False, settings=settings)
    except ConfigError as exc:
        raise ConfigError("strategy", f"--strategy {opts.strategy!r}: {exc}") from None
    store = Store(opts.log_store) if opts.log_store else None
    if store is not None:
        store.set_meta("source", "ttscale serve --upstream")
    return ProxyService(settings, factory, store=store)


def _client_key(request: Any) -> str:
    """Whose concurrency a request counts against: the bearer token (hashed; the proxy
    never keeps keys), else the client address."""
    auth = request.headers.get("authorization")
    if auth:
        return "k:" + hashlib.blake2b(auth.encode(), digest_size=8).hexdigest()
    client = request.client
    return "a:" + (client.host if client else "?")


Handler = Callable[[Request, bool], Awaitable[Any]]
_JSON_HEADERS = [(b"content-type", b"application/json")]


class ProxyApp:
    """The proxy's ASGI application: ``POST`` to the completion routes goes straight to the
    shared handler; everything else (other paths and methods, ``/v1/models``, ``/health``,
    404/405s, the lifespan) to the FastAPI app ``fallback``. Errors become the same
    OpenAI-style responses as under FastAPI (:func:`~.wire.error_for`)."""

    def __init__(self, fallback: FastAPI, handler: Handler, routes: dict[str, bool]) -> None:
        self.fallback, self.handler, self.routes = fallback, handler, routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        chat = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if chat is None or scope["method"] != "POST":
            await self.fallback(scope, receive, send)
            return
        try:
            response = await self.handler(Request(scope, receive), chat)
        except Exception as exc:
            status, body = error_for(exc, scope["path"])
            await _send_json(send, status, body.model_dump_json().encode())
            return
        if isinstance(response, bytes):
            await _send_json(send, 200, response)
        else:
            await response(scope, receive, send)


async def _send_json(send: Any, status: int, payload: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", b"%d" % len(payload))]})
    await send({"type": "http.response.body", "body": payload})


def create_app(service: ProxyService, opts: ProxyOptions,
               upstream_models: Callable[[], Awaitable[list[str]]] | None = None) -> ProxyApp:
    """The proxy's ASGI application (:class:`ProxyApp` over a FastAPI app). ``upstream_models``
    lists the upstream's models for ``/v1/models`` (default: ``GET {upstream}/models``,
    cached for 30 s)."""
    inflight: dict[str, int] = {}
    state = {"inflight": 0, "started": time.time()}
    list_models = upstream_models or _upstream_lister(opts)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        await service.aclose()

    app = FastAPI(title="ttscale proxy", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    install_error_handlers(app)

    def acquire(request: Any) -> str:
        check_bearer(request, opts.api_key)
        key = _client_key(request)
        count = inflight.get(key, 0)
        if count >= opts.max_concurrency_per_key:
            raise WireError(429, f"too many concurrent requests for this key (limit "
                            f"{opts.max_concurrency_per_key})", code="rate_limit_exceeded",
                            type="rate_limit_error")
        inflight[key] = count + 1
        state["inflight"] += 1
        return key

    def release(key: str) -> None:
        state["inflight"] -= 1
        left = inflight[key] - 1
        if left:
            inflight[key] = left
        else:
            del inflight[key]

    async def complete(request: Request, chat: bool) -> Any:
        key = acquire(request)
        handed_off = False
        try:
            plan = service.plan(await read_json(request, opts.max_body_bytes), chat=chat)
            rid = ("chatcmpl-" if chat else "cmpl-") + os.urandom(12).hex()
            created = now()
            if not plan.stream:  # the encoded body (ProxyApp sends it; FastAPI routes wrap it)
                return render_response(plan, await service.run(plan, rid), rid, created)
            # without progress events the decision comes first, so failures keep their status
            decided = None if plan.progress else await service.run(plan, rid)

            async def body() -> AsyncIterator[bytes]:
                try:
                    async for event in stream_events(plan, service, rid, created, outcomes=decided):
                        yield event
                finally:
                    release(key)

            handed_off = True
            return StreamingResponse(body(), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        finally:
            if not handed_off:
                release(key)

    def route(chat: bool) -> Callable[[Request], Awaitable[Any]]:
        async def endpoint(request: Request) -> Any:
            response = await complete(request, chat)
            return Response(response, media_type="application/json") if isinstance(response, bytes) else response

        return endpoint

    routes = {"/v1/chat/completions": True, "/v1/completions": False}
    for path, chat in routes.items():  # the same routes under FastAPI (ProxyApp's fallback)
        app.add_api_route(path, route(chat), methods=["POST"], include_in_schema=False)

    @app.get("/v1/models")
    async def models(request: Request) -> Any:
        check_bearer(request, opts.api_key)
        names = await list_models()
        return Response(service.models(names).model_dump_json().encode(), media_type="application/json")

    @app.get("/health")
    async def health() -> Any:
        from ..backends.openai import _display_url

        return {"status": "ok", "upstream": _display_url(opts.upstream), "inflight": state["inflight"],
                "requests": service.requests, "failures": service.failures,
                "uptime_s": round(time.time() - state["started"], 1)}

    return ProxyApp(app, complete, routes)


def _upstream_lister(opts: ProxyOptions) -> Callable[[], Awaitable[list[str]]]:
    """``GET {upstream}/models``, cached for 30 s; errors become 502 (BackendError)."""
    cache: dict[str, Any] = {"at": 0.0, "names": []}

    async def lister() -> list[str]:
        if time.monotonic() - cache["at"] < 30 and cache["names"]:
            return list(cache["names"])
        import httpx

        from ..backends.openai import _display_url, _normalize_url

        base = _normalize_url(opts.upstream)
        key = opts.upstream_api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                resp = await client.get(base + "/models", headers=headers)
            resp.raise_for_status()
            names = [str(m["id"]) for m in resp.json()["data"]]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            why = f"HTTP {status}" if status else type(exc).__name__
            raise BackendError(f"GET {_display_url(base)}/models failed: {why}",
                               upstream=_display_url(base), status=status) from None
        cache.update(at=time.monotonic(), names=names)
        return names

    return lister


def make_server(opts: ProxyOptions, log_level: str = "warning") -> tuple[Any, socket.socket]:
    """A configured uvicorn server and its bound listening socket (``port=0`` picks a free
    port: read it from the socket). Used by :func:`run_proxy`, tests and benchmarks."""
    import uvicorn

    from ..commands.serve import bind_socket

    require_safe_bind(opts.host, opts.api_key)
    service = build_service(opts)
    app = create_app(service, opts)
    sock = bind_socket(opts.host, opts.port)
    # uvloop and httptools when installed ("auto"); no access log unless asked: it costs
    # more CPU per request than the proxy's own work
    config = uvicorn.Config(app, loop="auto", http="auto", lifespan="on", access_log=opts.access_log,
                            log_level=log_level, timeout_keep_alive=30, backlog=2048,
                            timeout_graceful_shutdown=int(max(1, opts.shutdown_timeout)))
    return uvicorn.Server(config), sock


def run_proxy(args: Any) -> int:
    """``ttscale serve --upstream URL``: serve until SIGINT/SIGTERM, finishing in-flight
    requests. Announces ``ttscale serve: listening on URL`` on stdout like the model host."""
    from ..backends.openai import _display_url

    opts = options_from_args(args)
    server, sock = make_server(opts, getattr(args, "log_level", None) or "warning")
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"ttscale serve: proxy for {_display_url(opts.upstream)} (default strategy {opts.strategy}, "
          f"answers: {opts.answer or 'free-form'}, client key required: {'yes' if opts.api_key else 'no'})",
          file=sys.stderr, flush=True)
    print(f"ttscale serve: listening on http://{shown}:{port}/v1", flush=True)
    _tune_gc()
    server.run(sockets=[sock])
    return 0


def _tune_gc() -> None:
    """Garbage collection for a long-running server: the startup objects (modules, models,
    the strategy registry) move to the permanent generation so collections stop re-scanning
    them, and young collections run every 10,000 net allocations instead of 700 (each request
    allocates about that many, so in-flight requests' objects no longer get promoted and
    re-scanned). Measured here: GC time ≈0.05 → <0.01 ms per proxied request."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
