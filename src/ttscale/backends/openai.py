"""The HTTP backend: any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, hosted APIs).

Why it looks the way it does:

* **One pooled client and one concurrency limit per upstream.** Backends created for the same
  base URL (the main model, a judge, the proxy's per-request backends) share one pool of
  keep-alive connections and one semaphore, so the limit protects the server rather than
  each caller. The pool is a few small ``httpx.AsyncClient``s rather than one big one (see
  ``_SHARD_CONNECTIONS``), or one client over a caller-supplied ``transport``, or one
  caller-supplied ``client``. Pools are per event loop because httpx clients cannot cross loops.
* **n in one request.** ``n`` samples of a prompt go upstream as one request so the server
  can share the prompt's prefill. Servers that refuse ``n > 1`` (llama.cpp answers 400 "only
  one completion choice is allowed"), cap it (an error naming ``param: "n"`` with "<= K", as
  ttscale's model host answers above ``--max-n``) or silently return fewer choices (Ollama)
  are remembered per upstream, and from then on ``n`` is split into parallel requests of at
  most the accepted size (single requests when only 1 is accepted).
* **Seeds.** A request for ``n`` samples forwards ``seed`` unchanged, which is what makes a
  run through ``ttscale serve --model`` reproduce the in-process backend exactly. When the
  samples must be split over several requests, the request starting at sample ``i`` gets
  ``derive_seed(seed, "n-split", i)`` (``seed`` itself for ``i = 0``), so results stay
  reproducible but differ from the unsplit request.
* **Failures.** Connection errors, timeouts, dropped connections, 408/429/5xx and 200s whose
  body is not a valid completion are retried with exponential backoff and jitter (429's
  ``Retry-After`` is honoured, capped at ``max_retry_after``); other 4xx fail at once. After
  the last attempt a :class:`~ttscale.errors.BackendError` names the upstream URL and the
  last HTTP status. The API key is sent only in the ``Authorization`` header and is redacted
  from every message and log line, as are credentials embedded in the URL.
* **Usage.** The shared prompt is counted once per ``generate`` call: the first generation
  carries ``prompt_tokens``, the others ``cached_prompt_tokens`` (also when ``n`` was split
  over several requests, where the upstream's prefix cache normally absorbs the repeats).
  Per-choice completion tokens come from ttscale's ``ttscale`` choice extension when the
  upstream is a ttscale model host, else from the number of per-token log-probs, else the
  response total is split over the choices in proportion to their text length.
* **Log-prob statistics.** From per-token log-probs: sum, mean and min. With
  ``top_logprobs >= 2``, entropy and self-certainty are computed from the top-k log-probs
  renormalised over those k tokens: an *approximation* of the full-distribution quantities
  (the tail is ignored), recorded as ``distribution="top_k"`` in every sample. Exact values
  (``"full"``) only come from a ttscale model host's extension field.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import os
import random
import re
import time
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np

from ..config import SamplingConfig, derive_seed
from ..errors import BackendError, ConfigError
from ..types import Generation, Prompt, Usage, prompt_text

__all__ = ["OpenAIBackend", "logprob_stats"]

log = logging.getLogger("ttscale.backends.openai")
T = TypeVar("T")

_RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_N_REJECTION_HINTS = (
    "only one completion choice", "only one choice", "only n=1", "n must be 1", "n must be",
    "n > 1", "n>1", "'n'", '"n"', "multiple choices", "multiple completions", "n is not supported",
    "n not supported", "parameter n", "unsupported n", "'n' is not supported",
)
_MAX_MESSAGE = 300


#: connections per httpx client; an upstream allowing more concurrency gets several clients,
#: because httpcore scans every connection of a pool on each request (measured: at 256
#: connections in one pool the client spends ~1.5 ms more CPU per request than at 1)
_SHARD_CONNECTIONS = 8


@dataclass
class _Upstream:
    """The per-(event loop, base URL) pool shared by every backend instance: one semaphore
    and one or more keep-alive clients (``shards``), each request on the least busy one."""

    shards: list[Any]  # httpx.AsyncClient, or what the ``client`` factory makes
    semaphore: asyncio.Semaphore
    busy: list[int]
    users: int = 0

    @property
    def closed(self) -> bool:
        return self.shards[0].is_closed

    async def aclose(self) -> None:
        for client in self.shards:
            await client.aclose()


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Upstream]] = (
    weakref.WeakKeyDictionary())
#: base URL → the largest n it accepted after refusing (or ignoring) a larger one;
#: remembered for the life of the process
_N_LIMIT: dict[str, int] = {}


class _NRejected(Exception):
    """The upstream refused n > 1."""


class _Retryable(Exception):
    def __init__(self, reason: str, status: int | None = None, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.delay = reason, status, delay


class OpenAIBackend:
    """Samples from an OpenAI-compatible server over HTTP (``/v1/completions`` or
    ``/v1/chat/completions``).

    ``model``: the upstream's model name (``None``: the first model ``/v1/models`` lists).
    ``base_url``/``api_key``: default to ``$OPENAI_BASE_URL``/``$OPENAI_API_KEY``; a URL without
    a path gets ``/v1``. ``chat``: ``"auto"`` uses chat completions for message prompts and
    completions for text; ``True`` always chat (text becomes one user message); ``False``
    always completions (messages are rendered as plain text). ``max_concurrency``: requests in
    flight per upstream (shared by every backend on that URL; the first one sets it).
    ``timeout``: seconds per request. ``max_retries``: retries after the first attempt.
    ``backoff``: first retry delay in seconds (doubles each time, with jitter, up to
    ``max_backoff``). ``n_per_request``: the most samples asked for in one request
    (``None``: no limit; ``1``: always single requests). ``transport``: a factory for the
    httpx transport of the upstream's pool (called once per pool, which is then one client);
    ``None`` uses httpx's own connection pool. ``client``: a factory for the pool's client
    itself, called once per pool as ``client(base_url, timeout, headers)``; it must offer the
    part of ``httpx.AsyncClient`` used here (``request(method, path, content=, headers=)``
    returning a response with ``status_code``, ``content``, ``headers``, ``reason_phrase``,
    ``text`` and ``json()``; ``is_closed``; ``aclose()``) and raise httpx's exceptions.
    """

    def __init__(self, model: str | None = None, *, base_url: str | None = None,
                 api_key: str | None = None, chat: bool | Literal["auto"] = "auto",
                 max_concurrency: int = 64, timeout: float = 60.0, max_retries: int = 5,
                 backoff: float = 0.5, max_backoff: float = 30.0, max_retry_after: float = 60.0,
                 n_per_request: int | None = None,
                 transport: Callable[[], httpx.AsyncBaseTransport] | None = None,
                 client: Callable[[str, float, dict[str, str]], Any] | None = None) -> None:
        url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not url:
            raise ConfigError("base_url", "the openai backend needs a server URL: pass --base-url "
                              "(e.g. http://127.0.0.1:8000/v1) or set OPENAI_BASE_URL")
        self.base_url = _normalize_url(url)
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if chat not in (True, False, "auto"):
            raise ConfigError("chat", f"must be true, false or 'auto' (got {chat!r})")
        for name, value, low in (("max_concurrency", max_concurrency, 1), ("timeout", timeout, 0.001),
                                 ("max_retries", max_retries, 0), ("backoff", backoff, 0.0),
                                 ("max_backoff", max_backoff, 0.0),
                                 ("max_retry_after", max_retry_after, 0.0)):
            if not isinstance(value, int | float) or value < low:
                raise ConfigError(name, f"must be a number >= {low} (got {value!r})")
        if n_per_request is not None and (not isinstance(n_per_request, int) or n_per_request < 1):
            raise ConfigError("n_per_request", f"must be an integer >= 1 (got {n_per_request!r})")
        self.model: str = model or ""
        self.chat = chat
        self.max_concurrency = int(max_concurrency)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_retry_after = float(max_retry_after)
        self.n_per_request = n_per_request
        self.transport = transport
        self.client = client
        self.display_url = _display_url(self.base_url)
        self._headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._model_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend(model={self.model!r}, base_url={self.display_url!r})"

    # ---------------------------------------------------------------- pool management

    def _upstream(self) -> _Upstream:
        loop = asyncio.get_running_loop()
        pools = _POOLS.setdefault(loop, {})
        up = pools.get(self.base_url)
        if up is None or up.closed:
            count = 1 if self.transport or self.client else -(-self.max_concurrency // _SHARD_CONNECTIONS)
            if self.client is not None:
                shards = [self.client(self.base_url, self.timeout, {"User-Agent": "ttscale"})]
            else:
                per = -(-self.max_concurrency // count)
                limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
                shards = [httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(self.timeout),
                                            limits=limits, headers={"User-Agent": "ttscale"},
                                            transport=self.transport() if self.transport else None)
                          for _ in range(count)]
            up = _Upstream(shards, asyncio.Semaphore(self.max_concurrency), [0] * count)
            pools[self.base_url] = up
        if loop not in self._loops:
            self._loops.add(loop)
            up.users += 1
        return up

    async def aclose(self) -> None:
        """Release this backend's share of the pool; the last user closes the client."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop not in self._loops:
            return
        self._loops.discard(loop)
        pools = _POOLS.get(loop, {})
        up = pools.get(self.base_url)
        if up is None:
            return
        up.users -= 1
        if up.users <= 0:
            pools.pop(self.base_url, None)
            await up.aclose()

    # ------------------------------------------------------------------------ generate

    async def generate(self, prompt: Prompt, n: int, config: SamplingConfig,
                       seed: int | None = None) -> list[Generation]:
        """Exactly ``n`` generations for ``prompt``; raises BackendError after the retries."""
        if not isinstance(n, int) or n < 1:
            raise ConfigError("n", f"must be an integer >= 1 (got {n!r})")
        up = self._upstream()
        if not self.model:
            await self._discover_model(up)
        chat = self.chat if self.chat != "auto" else not isinstance(prompt, str)
        per = min(self.n_per_request or n, _N_LIMIT.get(self.base_url, n))
        parts = await _all([self._chunk(up, prompt, bool(chat), start, min(per, n - start), config, seed)
                            for start in range(0, n, per)])
        return [g for part in parts for g in part]

    async def _chunk(self, up: _Upstream, prompt: Prompt, chat: bool, start: int, count: int,
                     config: SamplingConfig, seed: int | None) -> list[Generation]:
        """``count`` samples starting at sample ``start`` in one request (seed
        ``_split_seed(seed, start)``), split further when the upstream turns out to accept
        fewer per request."""
        limit = _N_LIMIT.get(self.base_url)
        if limit is not None and count > limit:
            return await self._split(up, prompt, chat, start, count, limit, config, seed)
        chunk_seed = _split_seed(seed, start)
        body = self._body(prompt, chat, count, config, chunk_seed)
        try:
            data, latency = await self._post(up, "/chat/completions" if chat else "/completions", body)
        except _NRejected as exc:
            limit = _n_cap(str(exc), count)
            self._learn_n_limit(limit, f"rejected n={count}")
            return await self._split(up, prompt, chat, start, count, limit, config, seed)
        gens = self._parse(data, chat, count, latency, chunk_seed, start,
                           exact=config.temperature == 1.0)
        if not gens:
            raise BackendError(f"{self.display_url} returned no choices", upstream=self.display_url,
                               status=200)
        if len(gens) < count:  # the upstream ignored n (Ollama does): fetch the rest
            self._learn_n_limit(len(gens), f"returned {len(gens)} of {count} choices")
            gens += await self._split(up, prompt, chat, start + len(gens), count - len(gens),
                                      len(gens), config, seed)
        return gens

    async def _split(self, up: _Upstream, prompt: Prompt, chat: bool, start: int, count: int,
                     per: int, config: SamplingConfig, seed: int | None) -> list[Generation]:
        parts = await _all([self._chunk(up, prompt, chat, s, min(per, start + count - s), config, seed)
                            for s in range(start, start + count, per)])
        return [g for part in parts for g in part]

    def _learn_n_limit(self, limit: int, why: str) -> None:
        if limit < _N_LIMIT.get(self.base_url, limit + 1):
            log.info("%s %s; asking for at most n=%d per request from now on", self.display_url, why, limit)
            _N_LIMIT[self.base_url] = limit

    def _body(self, prompt: Prompt, chat: bool, n: int, config: SamplingConfig,
              seed: int | None) -> dict[str, Any]:
        """The request body. Field by field the inverse of
        :func:`ttscale.server.protocol.sampling_from_request`."""
        body: dict[str, Any] = {"model": self.model, "n": n, "max_tokens": config.max_tokens,
                                "temperature": config.temperature, "top_p": config.top_p}
        if chat:
            body["messages"] = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            if config.logprobs:
                body["logprobs"] = True
                if config.top_logprobs:
                    body["top_logprobs"] = config.top_logprobs
        else:
            body["prompt"] = prompt if isinstance(prompt, str) else prompt_text(prompt)
            if config.logprobs:
                body["logprobs"] = config.top_logprobs
        if config.top_k is not None:
            body["top_k"] = config.top_k
        if config.stop:
            body["stop"] = list(config.stop)
        if seed is not None:
            body["seed"] = seed
        return body

    # ------------------------------------------------------------------- HTTP + retries

    async def _discover_model(self, up: _Upstream) -> None:
        if self._model_lock is None:
            self._model_lock = asyncio.Lock()
        async with self._model_lock:
            if self.model:
                return
            data, _ = await self._request(up, "GET", "/models", None)
            try:
                self.model = str(data["data"][0]["id"])
            except (KeyError, IndexError, TypeError):
                raise BackendError(f"{self.display_url}/models lists no model; pass --model",
                                   upstream=self.display_url) from None
            log.info("using model %r from %s", self.model, self.display_url)

    async def _post(self, up: _Upstream, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        return await self._request(up, "POST", path, body)

    async def _request(self, up: _Upstream, method: str, path: str,
                       body: dict[str, Any] | None) -> tuple[dict[str, Any], float]:
        """One logical request with retries. Returns (decoded JSON, seconds of the last try)."""
        url = self.display_url + path
        attempts = self.max_retries + 1
        last: _Retryable | None = None
        for attempt in range(attempts):
            try:
                return await self._attempt(up, method, path, body)
            except _Retryable as exc:
                last = exc
            if attempt + 1 < attempts:
                delay = self._delay(attempt, last.delay)
                log.warning("%s %s: %s; retry %d/%d in %.2fs", method, url, self._redact(last.reason),
                            attempt + 1, self.max_retries, delay)
                await asyncio.sleep(delay)
        assert last is not None
        status = f"HTTP {last.status}: " if last.status else ""
        raise BackendError(f"{method} {url} failed after {attempts} attempt(s): {status}"
                           f"{self._redact(last.reason)}", upstream=self.display_url, status=last.status)

    async def _attempt(self, up: _Upstream, method: str, path: str,
                       body: dict[str, Any] | None) -> tuple[dict[str, Any], float]:
        url = self.display_url + path
        try:
            async with up.semaphore:
                shard = up.busy.index(min(up.busy)) if len(up.busy) > 1 else 0
                up.busy[shard] += 1
                t0 = time.perf_counter()
                try:
                    if body is None:
                        resp = await up.shards[shard].request(method, path, headers=self._headers)
                    else:
                        resp = await up.shards[shard].request(
                            method, path, content=json.dumps(body).encode(),
                            headers={**self._headers, "Content-Type": "application/json"})
                finally:
                    up.busy[shard] -= 1
                latency = time.perf_counter() - t0
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {self.timeout:g}s ({type(exc).__name__})") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError) as exc:
            raise BackendError(f"{method} {url}: {self._redact(str(exc))}",
                               upstream=self.display_url) from None
        except httpx.TransportError as exc:  # connect/read/write errors, dropped connections
            raise _Retryable(f"connection error ({type(exc).__name__}: {exc})") from None
        except httpx.HTTPError as exc:
            raise BackendError(f"{method} {url}: {type(exc).__name__}: {self._redact(str(exc))}",
                               upstream=self.display_url) from None
        status = resp.status_code
        if status == 200:
            try:
                data = json.loads(resp.content)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise _Retryable(f"invalid JSON in the response ({exc})", status) from None
            if not isinstance(data, dict) or (method == "POST" and not isinstance(data.get("choices"), list)):
                raise _Retryable("the response is not a completion object", status)
            return data, latency
        message, param = _error_info(resp)
        if body is not None and body.get("n", 1) > 1 and _is_n_rejection(status, message, param):
            raise _NRejected(message)
        if status in _RETRY_STATUSES or status >= 500:
            delay = _retry_after(resp.headers.get("retry-after")) if status in (429, 503) else None
            raise _Retryable(message or resp.reason_phrase, status, delay)
        raise BackendError(f"{method} {url} failed: HTTP {status}: {self._redact(message)}",
                           upstream=self.display_url, status=status)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base = min(self.max_backoff, self.backoff * (2 ** attempt))
        return base / 2 + random.uniform(0, base / 2)  # "equal jitter": spread, never near zero

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text[:_MAX_MESSAGE]

    # ------------------------------------------------------------------------ parsing

    def _parse(self, data: dict[str, Any], chat: bool, count: int, latency: float,
               seed: int | None, start: int, exact: bool = False) -> list[Generation]:
        """Generations from one response (at most ``count``) whose first choice is sample
        ``start`` of the generate call: only sample 0 pays for the prompt, the others count it
        as cached. A malformed choice is an upstream bug, reported as BackendError (not
        retried: it would repeat). ``exact``: the request sampled at temperature 1, so a
        choice's summed log-probs are its sampling log-probability (``sampled_logprob``)."""
        try:
            choices = sorted(data["choices"], key=lambda c: c.get("index", 0))[:count]
            usage = data.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens") or 0)
            total_completion = int(usage.get("completion_tokens") or 0)
            model = str(data.get("model") or self.model)
            rows = []
            pending: list[tuple[dict[str, Any], list[float], list[list[float]]]] = []
            for c in choices:
                text = (c.get("message") or {}).get("content") if chat else c.get("text")
                ext = c.get("ttscale")
                if isinstance(ext, dict) and "completion_tokens" in ext:
                    stats = {k: ext.get(k) for k in ("logprob_sum", "logprob_mean", "logprob_min",
                                                     "entropy_mean", "self_certainty_mean")}
                    stats["distribution"] = ext.get("distribution") or "none"
                    ntok: int | None = int(ext["completion_tokens"])
                else:
                    lp = c.get("logprobs")
                    values, tops = _chat_logprobs(lp) if chat else _completion_logprobs(lp)
                    stats = {}
                    pending.append((stats, values, tops))  # filled below, all choices at once
                    ntok = len(values) if values else None
                rows.append((str(text or ""), str(c.get("finish_reason") or "stop"), stats, ntok))
            for (stats, _, _), computed in zip(pending, logprob_stats_many(
                    [(v, t) for _, v, t in pending]), strict=True):
                stats.update(computed)
            counts = _split_tokens(total_completion, [(len(t), k) for t, _, _, k in rows])
            return [Generation(text=text, finish_reason=finish, model=model, seed=seed, latency=latency,
                               usage=Usage(prompt_tokens=0 if start + i else prompt_tokens,
                                           cached_prompt_tokens=prompt_tokens if start + i else 0,
                                           completion_tokens=ntok),
                               sampled_logprob=exact and stats.get("logprob_sum") is not None, **stats)
                    for i, ((text, finish, stats, _), ntok) in enumerate(zip(rows, counts, strict=True))]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # incl. pydantic's
            raise BackendError(f"{self.display_url} sent a malformed completion: {type(exc).__name__}: "
                               f"{self._redact(str(exc))}", upstream=self.display_url, status=200) from None


# ---------------------------------------------------------------------------- helpers


async def _all(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run coroutines concurrently; the first failure cancels the rest and is raised as
    itself (not as an ExceptionGroup), so callers see a plain BackendError."""
    if len(coros) == 1:
        return [await coros[0]]
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(c) for c in coros]
    except BaseExceptionGroup as group:
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]


def logprob_stats(values: list[float], tops: list[list[float]]) -> dict[str, Any]:
    """Sample statistics from per-token log-probs and, per token, the top-k log-probs.

    Entropy and self-certainty (KL(U‖p), methods.md) are computed on the top-k distribution
    renormalised over its k tokens — an approximation of the full-distribution values that
    ignores the tail, hence ``distribution="top_k"``. Tokens with fewer than two top entries
    are skipped for these two; with none left they are ``None`` and ``distribution="none"``."""
    return logprob_stats_many([(values, tops)])[0]


def logprob_stats_many(items: list[tuple[list[float], list[list[float]]]]) -> list[dict[str, Any]]:
    """:func:`logprob_stats` for several samples at once: the top-k rows of every sample go
    through numpy together (the HTTP backend's hot path: n choices per response)."""
    out: list[dict[str, Any]] = []
    for values, _ in items:
        stats: dict[str, Any] = {"distribution": "none"}
        if values:
            total = sum(values)
            stats.update(logprob_sum=total, logprob_mean=total / len(values), logprob_min=min(values))
        out.append(stats)
    rows = [[t for t in tops if len(t) >= 2] for _, tops in items]
    for width in sorted({len(t) for r in rows for t in r}):  # one matrix per top-k width
        picked = [[t for t in r if len(t) == width] for r in rows]
        h, c = _topk_terms(np.asarray([t for r in picked for t in r], dtype=np.float64))
        start = 0
        for stats, r in zip(out, picked, strict=True):
            stop = start + len(r)
            if r:  # accumulate sums; turned into means below
                stats["_h"] = stats.get("_h", 0.0) + float(h[start:stop].sum())
                stats["_c"] = stats.get("_c", 0.0) + float(c[start:stop].sum())
            start = stop
    for stats, r in zip(out, rows, strict=True):
        if r:
            stats.update(entropy_mean=stats.pop("_h") / len(r),
                         self_certainty_mean=stats.pop("_c") / len(r), distribution="top_k")
    return out


def _topk_terms(v: Any) -> tuple[Any, Any]:
    """Per row of top-k log-probs ``v`` (tokens × k): entropy and KL(U‖q) of the renormalised
    distribution q. With p_j = exp(v_j − m), log Z = m + log Σp: H = log Z − Σ p_j v_j / Σp and
    KL(U‖q) = log Z − mean(v) − log k (closed forms, no per-element logs)."""
    m = v.max(axis=1)
    p = np.exp(v - m[:, None])
    z = p.sum(axis=1)
    log_z = m + np.log(z)
    entropy = log_z - (p * v).sum(axis=1) / z
    certainty = log_z - v.sum(axis=1) / v.shape[1] - math.log(v.shape[1])
    return entropy, certainty


def _completion_logprobs(lp: Any) -> tuple[list[float], list[list[float]]]:
    """``/v1/completions`` log-probs: ``{"token_logprobs": [...], "top_logprobs": [{tok: lp}]}``."""
    if not lp:
        return [], []
    values = [v for v in (lp.get("token_logprobs") or []) if v is not None]
    tops = [list(t.values()) for t in (lp.get("top_logprobs") or []) if t]
    return values, tops


def _chat_logprobs(lp: Any) -> tuple[list[float], list[list[float]]]:
    """``/v1/chat/completions`` log-probs: ``{"content": [{"logprob", "top_logprobs": [...]}]}``."""
    if not lp:
        return [], []
    content = lp.get("content") or []
    values = [t["logprob"] for t in content if t.get("logprob") is not None]
    tops = [[x["logprob"] for x in t.get("top_logprobs") or ()] for t in content]
    return values, tops


def _split_tokens(total: int, rows: list[tuple[int, int | None]]) -> list[int]:
    """Per-choice completion tokens: known counts are kept; the rest of ``total`` is split over
    the unknown ones in proportion to text length (an estimate, exact for a single choice)."""
    known = sum(k for _, k in rows if k is not None)
    unknown = [i for i, (_, k) in enumerate(rows) if k is None]
    out = [k or 0 for _, k in rows]
    if unknown:
        rest = max(0, total - known)
        weights = [max(1, rows[i][0]) for i in unknown]
        wsum = sum(weights)
        shares = [rest * w // wsum for w in weights]
        for j in range(rest - sum(shares)):  # hand out the rounding remainder
            shares[j % len(shares)] += 1
        for i, s in zip(unknown, shares, strict=True):
            out[i] = s
    return out


def _split_seed(seed: int | None, start: int) -> int | None:
    if seed is None or start == 0:
        return seed
    return derive_seed(seed, "n-split", start)


def _error_info(resp: httpx.Response) -> tuple[str, str | None]:
    """(message, param) of an error response, OpenAI-style or not."""
    try:
        data = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return resp.text.strip()[:_MAX_MESSAGE], None
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        param = err.get("param")
        return (str(err.get("message") or err.get("detail") or err)[:_MAX_MESSAGE],
                param if isinstance(param, str) else None)
    return str(err)[:_MAX_MESSAGE], None


_N_CAP = re.compile(r"(?:<=|≤|at most|less than or equal to|no more than|maximum(?: value)?(?: of| is)?)"
                    r"\s*(\d+)", re.IGNORECASE)


def _n_cap(message: str, asked: int) -> int:
    """The largest n a rejection message allows (e.g. "n: must be <= 16"), else 1."""
    found = _N_CAP.search(message)
    cap = int(found.group(1)) if found else 1
    return cap if 1 <= cap < asked else 1


def _is_n_rejection(status: int, message: str, param: str | None = None) -> bool:
    """Does this error say "n > 1 is not supported"? Matched on the message, since servers
    differ in status (400, 422, 500) and wording."""
    if status == 429 or status < 400:
        return False
    if param == "n":
        return True
    text = message.lower()
    return any(h in text for h in _N_REJECTION_HINTS)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date); None when absent/unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _normalize_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("base_url", f"expected an http(s) URL such as http://127.0.0.1:8000/v1 "
                          f"(got {_display_url(url)!r})")
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _display_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
