"""The model host: an in-process backend served over the OpenAI API (``ttscale serve --model``).

It exists so that everything HTTP (the HTTP backend, the proxy, users' own OpenAI clients)
can run against a real language model on 127.0.0.1 with no GPU and no network.

Exactness: a request is turned into ``backend.generate(prompt, n, config, seed)`` with the
request's own ``n``, ``seed`` and sampling fields (see
:func:`~ttscale.server.protocol.sampling_from_request`), so a seeded request returns exactly
what the in-process backend returns for the same (prompt, n, config, seed). Each choice
carries the exact per-sample statistics in its ``ttscale`` field; standard per-token
``logprobs`` are returned as ``null`` because the embedded backend reports per-sample
aggregates, not per-token values.

Batching (:class:`Coalescer`): concurrent requests for the same prompt and sampling config
share work where that cannot change anyone's result —

* identical *seeded* requests (same prompt, config, n and seed) are computed once and every
  caller gets the same answer (which is what each would have got alone);
* *unseeded* requests arriving within ``batch_window`` seconds of each other are merged into
  one ``generate`` call for the sum of their ``n`` (one prefill, one batch), drawn with a
  fresh random seed and split in arrival order. Merged requests that did not pay for the
  prompt report it as ``usage.prompt_tokens_details.cached_tokens``.

Seeded requests with different seeds are never merged: that would change their samples.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

try:
    from fastapi import FastAPI, Request
except ImportError as exc:  # the optional "server" extra
    from ..errors import MissingDependencyError
    raise MissingDependencyError("the model host", "server") from exc

from ..config import SamplingConfig
from ..errors import ConfigError
from ..types import Generation, Prompt
from .protocol import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    ModelCard,
    ModelList,
    PromptTokensDetails,
    UsageInfo,
    parse_request,
    prompt_from_request,
    sampling_from_request,
    stats_from_generation,
)
from .wire import ServerLimits, WireError, check_bearer, install_error_handlers, read_json

__all__ = ["create_app", "Coalescer"]

log = logging.getLogger("ttscale.server.model_host")


@dataclass
class _Batch:
    prompt: Prompt
    config: SamplingConfig
    total: int = 0
    waiters: list[tuple[int, asyncio.Future[list[Generation]]]] = field(default_factory=list)


class Coalescer:
    """Shares backend calls between concurrent requests without changing any result
    (rules in the module docstring). ``max_batch`` caps the merged ``n``."""

    def __init__(self, backend: Any, *, window: float = 0.005, max_batch: int = 64) -> None:
        self.backend = backend
        self.window = window
        self.max_batch = max_batch
        self._seeded: dict[tuple[str, str, int, int], asyncio.Task[list[Generation]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._open: dict[tuple[str, str], _Batch] = {}
        self.calls = 0  # backend calls made, for tests and logs

    async def generate(self, prompt: Prompt, n: int, config: SamplingConfig,
                       seed: int | None) -> list[Generation]:
        pkey = json.dumps(prompt, sort_keys=True)
        if seed is not None:
            return await self._single_flight((pkey, config.hash(), n, seed), prompt, n, config, seed)
        if self.window <= 0:
            result: list[Generation] = await asyncio.shield(
                self._spawn(self.backend.generate(prompt, n, config, None)))
            return result
        return await self._merged((pkey, config.hash()), prompt, n, config)

    async def _single_flight(self, key: tuple[str, str, int, int], prompt: Prompt, n: int,
                             config: SamplingConfig, seed: int) -> list[Generation]:
        # the backend call runs in its own task so one client disconnecting (cancelling its
        # handler) does not cancel the work the other callers wait for
        task = self._seeded.get(key)
        if task is None:
            task = self._spawn(self.backend.generate(prompt, n, config, seed))
            self._seeded[key] = task
            task.add_done_callback(lambda _: self._seeded.pop(key, None))
        return await asyncio.shield(task)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        self.calls += 1
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # keep a reference until done
        task.add_done_callback(self._tasks.discard)
        return task

    async def _merged(self, key: tuple[str, str], prompt: Prompt, n: int,
                      config: SamplingConfig) -> list[Generation]:
        batch = self._open.get(key)
        if batch is None or batch.total + n > self.max_batch:
            batch = _Batch(prompt, config)
            self._open[key] = batch
            asyncio.get_running_loop().call_later(self.window, self._flush, key, batch)
        fut: asyncio.Future[list[Generation]] = asyncio.get_running_loop().create_future()
        batch.waiters.append((n, fut))
        batch.total += n
        return await fut

    def _flush(self, key: tuple[str, str], batch: _Batch) -> None:
        if self._open.get(key) is batch:
            del self._open[key]
        self._spawn(self._run(batch))

    async def _run(self, batch: _Batch) -> None:
        try:
            gens = await self.backend.generate(batch.prompt, batch.total, batch.config, None)
        except BaseException as exc:  # every waiter sees the backend's error
            for _, fut in batch.waiters:
                if not fut.done():
                    if isinstance(exc, asyncio.CancelledError):
                        fut.cancel()
                    else:
                        fut.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        start = 0
        for n, fut in batch.waiters:
            if not fut.done():
                fut.set_result(gens[start:start + n])
            start += n


def _usage(gens: list[Generation]) -> UsageInfo:
    """The request's usage: its prompt once, its completions; ``cached_tokens`` when another
    request of the same merged batch paid for the prompt."""
    prompt = gens[0].usage.prompt_tokens + gens[0].usage.cached_prompt_tokens if gens else 0
    paid = sum(g.usage.prompt_tokens for g in gens)
    completion = sum(g.usage.completion_tokens for g in gens)
    return UsageInfo(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
                     prompt_tokens_details=PromptTokensDetails(cached_tokens=0 if paid else prompt))


def create_app(backend: Any, *, served_model: str | None = None, api_key: str | None = None,
               limits: ServerLimits | None = None, batch_window: float = 0.005,
               close_backend: bool = True) -> Any:
    """A FastAPI app serving ``backend``. ``served_model`` is the name clients use (default:
    ``backend.model``); requests naming another model get 400. ``api_key`` turns on bearer
    auth for the ``/v1`` endpoints (``/health`` stays open for probes)."""
    limits = limits or ServerLimits()
    name = served_model or str(getattr(backend, "model", "") or "default")
    coalescer = Coalescer(backend, window=batch_window, max_batch=limits.max_n)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        if close_backend:
            await backend.aclose()

    app = FastAPI(title="ttscale model host", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.coalescer = coalescer
    app.state.model = name
    install_error_handlers(app)

    async def parse(request: Request, cls: type[CompletionRequest] | type[ChatCompletionRequest],
                    ) -> tuple[Any, Prompt, SamplingConfig]:
        check_bearer(request, api_key)
        req = parse_request(cls, await read_json(request, limits.max_body_bytes))
        if req.model != name:
            raise WireError(400, f"unknown model {req.model!r}; this server serves {name!r}",
                            param="model", code="model_not_found")
        if req.n > limits.max_n:
            raise ConfigError("n", f"must be <= {limits.max_n} on this server (got {req.n})")
        if req.stream:
            raise ConfigError("stream", "the model host does not stream; use stream=false "
                              "(the proxy, ttscale serve --upstream, streams)")
        if getattr(req, "echo", False):
            raise ConfigError("echo", "echo is not supported")
        return req, prompt_from_request(req), sampling_from_request(req, max_tokens_cap=limits.max_tokens)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": name}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        check_bearer(request, api_key)
        return ModelList(data=[ModelCard(id=name)]).model_dump()

    @app.post("/v1/completions")
    async def completions(request: Request) -> dict[str, Any]:
        req, prompt, config = await parse(request, CompletionRequest)
        gens = await coalescer.generate(prompt, req.n, config, req.seed)
        choices = [CompletionChoice(index=i, text=g.text, finish_reason=g.finish_reason,
                                    ttscale=stats_from_generation(g)) for i, g in enumerate(gens)]
        return CompletionResponse(model=name, choices=choices, usage=_usage(gens)).model_dump()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> dict[str, Any]:
        req, prompt, config = await parse(request, ChatCompletionRequest)
        gens = await coalescer.generate(prompt, req.n, config, req.seed)
        choices = [ChatChoice(index=i, message=AssistantMessage(content=g.text),
                              finish_reason=g.finish_reason, ttscale=stats_from_generation(g))
                   for i, g in enumerate(gens)]
        return ChatCompletionResponse(model=name, choices=choices, usage=_usage(gens)).model_dump()

    return app

