"""Request → strategy → response: the strategy proxy's serving logic (``ttscale serve --upstream``).

A proxy request is turned into an internal :class:`Plan` by *one* explicit conversion
(:func:`plan_request`): which strategy (model-name prefix such as ``sc8/<model>``, or
``extra_body={"ttscale": {...}}``, or the server default), how answers are extracted
(a task type or a regex; free-form requests are decided by universal self-consistency),
the sampling config, and the limits. Execution is the ordinary :class:`~ttscale.engine.Engine`
over a :class:`~ttscale.engine.LiveSource` whose backend is the HTTP backend pointed at the
upstream: the proxy has no orchestration logic of its own, so whatever a strategy does in
``ttscale run`` it does here, with the same accounting. A strategy's ``Draw(8)`` is one
upstream request with ``n=8``.

The response carries the full text of a representative sample of the winning answer,
``usage`` summed over every upstream token spent (verification included), and a
``ttscale`` field saying how the answer was decided (:class:`~.protocol.DecisionInfo`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ..config import Budget, SamplingConfig, stable_hash
from ..engine import Engine, LiveSource
from ..errors import ConfigError, TTScaleError, UnknownNameError
from ..registry import strategies
from ..store import Store
from ..strategies.base import Strategy
from ..tasks.base import Task
from ..types import Decision, Problem, Prompt, Sample
from .protocol import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatDelta,
    CompletionChoice,
    CompletionChunk,
    CompletionChunkChoice,
    DecisionInfo,
    ModelCard,
    ModelList,
    ProxyChatCompletionRequest,
    ProxyChatCompletionResponse,
    ProxyCompletionRequest,
    ProxyCompletionResponse,
    UsageInfo,
    parse_request,
    prompt_from_request,
    sampling_from_request,
)

__all__ = ["ProxySettings", "Plan", "Outcome", "ProxyTask", "ProxyService", "plan_request",
           "split_model", "render_response", "stream_events", "FREE_FORM_STRATEGY"]

log = logging.getLogger("ttscale.proxy")

#: what free-form requests (no task type, no regex) are decided by
FREE_FORM_STRATEGY = "usc"

#: prefix aliases: a short, stable name for "the best adaptive rule we ship", resolved
#: to the first registered strategy of the list (the library may add rules later)
ALIASES: dict[str, tuple[str, ...]] = {"adaptive": ("adaptive", "voi", "beta", "esc")}

#: strategies that never read log-probs; the proxy asks the upstream for log-probs only
#: when a strategy may use them (they cost upstream work and proxy parsing)
_NO_LOGPROBS = frozenset({"sc", "single", "greedy", "usc", "gsa", "esc", "beta", "dirichlet", "bayes"})

_PREFIX = re.compile(r"([A-Za-z_][A-Za-z_-]*?)(\d+)?")
_TASK_CACHE_MAX = 256


@dataclass(frozen=True)
class ProxySettings:
    """Server-side configuration of the proxy (from ``ttscale serve --upstream`` flags)."""

    upstream: str
    default_strategy: str = "sc:n=8"
    #: answer type for requests that name none; None = free-form (universal self-consistency)
    default_answer: str | None = None
    max_n: int = 8
    max_samples: int = 64
    max_tokens: int = 4096
    #: strategy prefixes advertised by /v1/models for every upstream model
    prefixes: tuple[str, ...] = ("sc8", "sc16", "adaptive", "rpc16", "usc8", "greedy")


class ProxyTask(Task):
    """A task made from a request's extraction rule: a task type (``math``, ``choice``,
    ``code``, ``text``) through :func:`ttscale.verify.extract.extract_answer`, or a regex
    (first group of the last match, else the whole match). Equivalence is equality of
    canonical forms (plus exact rational equality for numeric math answers): cheap and
    non-blocking, so votes are merged without SymPy on the event loop."""

    name = "proxy"

    def __init__(self, answer_type: str = "text", regex: str | None = None) -> None:
        super().__init__()
        self.answer_type = answer_type  # type: ignore[misc]
        self.regex = regex
        self._pattern: Any = None
        from ..verify.extract import extract_answer  # bound once: the hot path calls it per sample

        self._extract = extract_answer
        if regex is not None:
            import regex as regex_module  # the ``regex`` module: matching with a timeout

            try:
                self._pattern = regex_module.compile(regex)
            except regex_module.error as exc:
                raise ConfigError("ttscale.regex", f"invalid regular expression: {exc}") from None

    def load(self) -> list[Problem]:
        return []

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        if self._pattern is not None:
            try:  # a hostile pattern must not stall the event loop
                matches = self._pattern.findall(text, timeout=0.05, overlapped=False)
            except TimeoutError:
                return None
            if not matches:
                return None
            got = matches[-1]
            if isinstance(got, tuple):  # several groups: the first one
                got = got[0]
            return got.strip() or None
        return self._extract(text, self.answer_type)

    def same(self, a: str, b: str) -> bool:
        if a == b:
            return True
        if self.answer_type == "math" and self._pattern is None:
            from ..verify.math import as_fraction

            fa = as_fraction(a)
            return fa is not None and fa == as_fraction(b)
        return False


@dataclass
class Plan:
    """One validated proxy request in internal terms (what :func:`plan_request` returns)."""

    chat: bool
    model: str  # as the client named it; echoed back
    upstream_model: str
    prompt: Prompt
    sampling: SamplingConfig
    strategy: Strategy
    task: ProxyTask
    n: int = 1
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False
    progress: bool = False

    def strategy_copy(self) -> Strategy:
        """A fresh strategy instance with the same parameters (one per choice)."""
        return type(self.strategy)(**self.strategy.param_dict)


@dataclass
class Outcome:
    """One choice: the decision, the samples it drew (in draw order) and the text returned."""

    problem: Problem
    decision: Decision
    samples: list[Sample]
    text: str
    finish_reason: str


def split_model(model: str) -> tuple[str | None, int | None, str]:
    """``"sc8/llama"`` → ("sc", 8, "llama"); a first path segment that is not a registered
    strategy (``"meta-llama/Llama-3"``) is part of the model name: (None, None, model)."""
    head, sep, rest = model.partition("/")
    if not sep or not rest:
        return None, None, model
    m = _PREFIX.fullmatch(head)
    if not m:
        return None, None, model
    name = _resolve_name(m.group(1))
    if name is None:
        return None, None, model
    return name, int(m.group(2)) if m.group(2) else None, rest


def _resolve_name(name: str) -> str | None:
    if name in ALIASES:
        return next((n for n in ALIASES[name] if n in strategies), None)
    return name if name in strategies else None


def _budget_param(cls: type[Strategy]) -> str | None:
    fields = cls.Params.model_fields
    return "n" if "n" in fields else "max_samples" if "max_samples" in fields else None


def _make_strategy(name: str, params: dict[str, Any], budget: int | None, field_name: str) -> Strategy:
    try:
        cls = strategies.get(name)
    except UnknownNameError as exc:
        raise ConfigError(field_name, str(exc)) from None
    if budget is not None:
        key = _budget_param(cls)
        if key is None:
            raise ConfigError(field_name, f"strategy {name!r} takes no sample budget (drop the number)")
        params = {key: budget, **params}
    try:
        strategy: Strategy = cls(**params)
    except ConfigError as exc:
        raise ConfigError(f"ttscale.{exc.field}" if field_name.startswith("ttscale") else field_name,
                          str(exc)) from None
    return strategy


def plan_request(body: Any, *, chat: bool, settings: ProxySettings,
                 task_cache: dict[tuple[str, str | None], ProxyTask] | None = None) -> Plan:
    """The one conversion from a decoded request body to internal config. Every invalid
    value raises :class:`ConfigError` naming the field (an OpenAI-style 400 upstream of here)."""
    cls = ProxyChatCompletionRequest if chat else ProxyCompletionRequest
    req: ProxyChatCompletionRequest | ProxyCompletionRequest = parse_request(cls, body)
    if req.n > settings.max_n:
        raise ConfigError("n", f"must be <= {settings.max_n} on this proxy (got {req.n})")
    opts = req.ttscale
    prefix_name, prefix_budget, upstream_model = split_model(req.model)

    # strategy: explicit ttscale.strategy > model-name prefix > server default
    if opts is not None and opts.strategy:
        from ..runner import parse_strategy_spec

        name, params = parse_strategy_spec(opts.strategy)
        params.update(opts.strategy_params())
        budget = prefix_budget if prefix_name == _resolve_name(name) else None
        strategy = _make_strategy(_resolve_name(name) or name, params, budget, "ttscale.strategy")
    elif prefix_name is not None:
        extra = opts.strategy_params() if opts is not None else {}
        strategy = _make_strategy(prefix_name, extra, prefix_budget, "model")
    else:
        from ..runner import parse_strategy_spec

        name, params = parse_strategy_spec(settings.default_strategy)
        if opts is not None:
            params.update(opts.strategy_params())
        strategy = _make_strategy(_resolve_name(name) or name, params, None, "ttscale.strategy")

    # answer extraction: regex > ttscale.answer > server default; none = free-form
    regex = opts.regex if opts is not None else None
    answer = (opts.answer if opts is not None else None) or settings.default_answer
    if regex is None and answer in (None, "free"):
        answer_type = "text"
        if strategy.max_samples != 1 and strategy.kind != "aggregate":
            if FREE_FORM_STRATEGY in strategies:
                budget = strategy.max_samples or 8
                strategy = _make_strategy(FREE_FORM_STRATEGY, {}, budget, "ttscale.strategy")
            # without a universal self-consistency strategy, vote on normalised text
    else:
        answer_type = answer if answer not in (None, "free") else "text"
    key = (answer_type, regex)
    task = task_cache.get(key) if task_cache is not None else None
    if task is None:
        task = ProxyTask(answer_type, regex)
        if task_cache is not None:
            if len(task_cache) >= _TASK_CACHE_MAX:
                task_cache.pop(next(iter(task_cache)))
            task_cache[key] = task

    budget_used = strategy.max_samples
    if budget_used is not None and budget_used > settings.max_samples:
        where = "ttscale.strategy" if opts is not None and opts.strategy else \
            ("model" if prefix_name is not None else "ttscale.strategy")
        raise ConfigError(where, f"{strategy.label} may draw {budget_used} samples; this proxy allows "
                          f"at most {settings.max_samples} per request")

    sampling = sampling_from_request(req, max_tokens_cap=settings.max_tokens)
    want_logprobs = getattr(strategy, "needs_logprobs", strategy.name not in _NO_LOGPROBS)
    sampling = sampling.model_copy(update={"logprobs": bool(want_logprobs), "top_logprobs": 0})

    include_usage = False
    if req.stream_options is not None:
        value = req.stream_options.get("include_usage", False)
        if not isinstance(value, bool):
            raise ConfigError("stream_options.include_usage", "must be a boolean")
        include_usage = value
    return Plan(chat=chat, model=req.model, upstream_model=upstream_model,
                prompt=prompt_from_request(req), sampling=sampling, strategy=strategy, task=task,
                n=req.n, seed=req.seed, stream=req.stream, include_usage=include_usage,
                progress=bool(opts.progress) if opts is not None else False)


SampleHook = Callable[[int, Sample], None]


class ProxyService:
    """Runs plans against the upstream. ``backend_for(model)`` returns the HTTP backend of
    one upstream model (created on first use by ``backend_factory``, one per model, each
    with its pooled client); ``store`` (opt-in) receives every problem, sample, verdict and
    decision for a later ``ttscale report``."""

    def __init__(self, settings: ProxySettings, backend_factory: Callable[[str], Any], *,
                 store: Store | None = None) -> None:
        self.settings = settings
        self.backend_factory = backend_factory
        self.store = store
        self.budget = Budget(max_samples=settings.max_samples)
        self._backends: dict[str, Any] = {}
        self._tasks: dict[tuple[str, str | None], ProxyTask] = {}
        self._writes: set[asyncio.Future[Any]] = set()
        self.requests = 0
        self.failures = 0

    def plan(self, body: Any, *, chat: bool) -> Plan:
        return plan_request(body, chat=chat, settings=self.settings, task_cache=self._tasks)

    def backend_for(self, model: str) -> Any:
        backend = self._backends.get(model)
        if backend is None:
            backend = self._backends[model] = self.backend_factory(model)
        return backend

    async def run(self, plan: Plan, rid: str, on_sample: SampleHook | None = None) -> list[Outcome]:
        """Decide every choice of ``plan`` (concurrently when ``n > 1``)."""
        self.requests += 1
        backend = self.backend_for(plan.upstream_model)
        seed = plan.seed if plan.seed is not None else random.getrandbits(31)
        try:
            if plan.n == 1:
                outcomes = [await self._one(plan, plan.strategy, backend, seed, rid, 0, on_sample)]
            else:
                outcomes = list(await asyncio.gather(*[
                    self._one(plan, plan.strategy if i == 0 else plan.strategy_copy(), backend, seed,
                              rid, i, on_sample) for i in range(plan.n)]))
        except BaseException:
            self.failures += 1
            raise
        if self.store is not None:
            self._log(plan, outcomes)
        return outcomes

    async def _one(self, plan: Plan, strategy: Strategy, backend: Any, seed: int, rid: str, i: int,
                   on_sample: SampleHook | None) -> Outcome:
        # with a client seed the problem id derives from the prompt, so a repeated request
        # reproduces its samples (the LiveSource derives upstream seeds from it)
        pid = f"{rid}-{i}" if plan.seed is None else f"p-{stable_hash([plan.prompt, i])}"
        problem = Problem(id=pid, prompt=plan.prompt, task="proxy", answer_type=plan.task.answer_type)
        drawn: list[Sample] = []
        if on_sample is None:
            hook: Callable[[Sample], None] = drawn.append
        else:
            def hook(s: Sample) -> None:
                drawn.append(s)
                on_sample(i, s)
        source = LiveSource(backend, None, plan.task, seed=seed, on_sample=hook)
        engine = Engine(plan.task, source, store=self.store, sampling=plan.sampling,
                        budget=self.budget, backend=backend)
        decision = await engine.solve(problem, strategy)
        text, finish = _representative(decision, drawn)
        return Outcome(problem, decision, drawn, text, finish)

    def _log(self, plan: Plan, outcomes: list[Outcome]) -> None:
        """Write to the store off the event loop; the response does not wait for it."""
        store = self.store
        assert store is not None

        def write() -> None:
            for o in outcomes:
                store.put_problems([o.problem])
                store.put_samples(o.samples)
                store.put_decisions(plan.strategy.label, [o.decision])

        fut = asyncio.ensure_future(asyncio.to_thread(write))
        self._writes.add(fut)
        fut.add_done_callback(self._write_done)

    def _write_done(self, fut: asyncio.Future[Any]) -> None:
        self._writes.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.warning("decision log write failed: %s", fut.exception())

    def models(self, upstream_models: list[str]) -> ModelList:
        """Every upstream model, plain and behind each advertised strategy prefix."""
        cards = []
        for m in upstream_models:
            cards.append(ModelCard(id=m, owned_by="upstream"))
            for p in self.settings.prefixes:
                name, _, _ = split_model(f"{p}/{m}")
                if name is not None:
                    cards.append(ModelCard(id=f"{p}/{m}", owned_by="ttscale"))
        return ModelList(data=cards)

    async def aclose(self) -> None:
        """Finish pending log writes, close backends and the store."""
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
        for backend in self._backends.values():
            try:
                await backend.aclose()
            except TTScaleError as exc:  # closing must not mask the shutdown
                log.warning("closing backend failed: %s", exc)
        self._backends.clear()
        if self.store is not None:
            self.store.close()


def _representative(d: Decision, drawn: list[Sample]) -> tuple[str, str]:
    """The text returned for a decision: the strategy's representative sample; when no
    sample had an answer, the first sample drawn (so a client always gets the model's text)."""
    rep = None
    if d.sample_index is not None:
        rep = next((s for s in drawn if s.index == d.sample_index and s.stream == "main"), None)
    if rep is None and d.text is None and drawn:
        rep = drawn[0]
    if d.text is not None:
        return d.text, rep.finish_reason if rep is not None else "stop"
    if rep is None:
        return "", "stop"
    return rep.text, rep.finish_reason


# ---------------------------------------------------------------------------- responses


def _usage(outcomes: list[Outcome]) -> UsageInfo:
    prompt = sum(o.decision.usage.prompt_tokens for o in outcomes)
    completion = sum(o.decision.usage.completion_tokens for o in outcomes)
    return UsageInfo(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _info(plan: Plan, o: Outcome) -> DecisionInfo:
    d = o.decision
    return DecisionInfo(strategy=plan.strategy.label, answer=d.answer, votes=d.votes,
                        confidence=d.confidence, samples=d.samples_used, verifier_calls=d.verifier_calls,
                        cost=d.usage.cost, upstream_model=plan.upstream_model)


def _decision_info(plan: Plan, outcomes: list[Outcome]) -> DecisionInfo:
    head = _info(plan, outcomes[0])
    if len(outcomes) == 1:
        return head
    infos = [_info(plan, o) for o in outcomes]
    return head.model_copy(update={
        "samples": sum(i.samples for i in infos), "verifier_calls": sum(i.verifier_calls for i in infos),
        "cost": sum(i.cost for i in infos), "choices": infos})


def render_response(plan: Plan, outcomes: list[Outcome], rid: str, created: int) -> bytes:
    """The non-streamed JSON body."""
    usage = _usage(outcomes)
    info = _decision_info(plan, outcomes)
    resp: ProxyChatCompletionResponse | ProxyCompletionResponse
    if plan.chat:
        resp = ProxyChatCompletionResponse(
            id=rid, created=created, model=plan.model, usage=usage, ttscale=info,
            choices=[ChatChoice(index=i, message=AssistantMessage(content=o.text), finish_reason=o.finish_reason)
                     for i, o in enumerate(outcomes)])
    else:
        resp = ProxyCompletionResponse(
            id=rid, created=created, model=plan.model, usage=usage, ttscale=info,
            choices=[CompletionChoice(index=i, text=o.text, finish_reason=o.finish_reason)
                     for i, o in enumerate(outcomes)])
    return resp.model_dump_json(exclude_none=True).encode()


_PIECE = re.compile(r"\s*\S+(?:\s+\S+){0,3}\s*")


def _pieces(text: str) -> list[str]:
    """The decided text in word-group deltas, as a token stream would arrive."""
    return _PIECE.findall(text) or [text]


def _sse(chunk: ChatCompletionChunk | CompletionChunk) -> bytes:
    return b"data: " + chunk.model_dump_json(exclude_none=True).encode() + b"\n\n"


class _Chunks:
    """Builds the SSE events of one streamed response."""

    def __init__(self, plan: Plan, rid: str, created: int) -> None:
        self.plan, self.rid, self.created = plan, rid, created

    def role(self, i: int) -> bytes:
        return _sse(ChatCompletionChunk(id=self.rid, created=self.created, model=self.plan.model,
                                        choices=[ChatChunkChoice(index=i, delta=ChatDelta(role="assistant",
                                                                                          content=""))]))

    def text(self, i: int, piece: str, finish: str | None = None) -> bytes:
        if self.plan.chat:
            return _sse(ChatCompletionChunk(
                id=self.rid, created=self.created, model=self.plan.model,
                choices=[ChatChunkChoice(index=i, delta=ChatDelta(content=piece or None),
                                         finish_reason=finish)]))
        return _sse(CompletionChunk(id=self.rid, created=self.created, model=self.plan.model,
                                    choices=[CompletionChunkChoice(index=i, text=piece, finish_reason=finish)]))

    def extra(self, usage: UsageInfo | None = None, ttscale: dict[str, Any] | None = None) -> bytes:
        cls = ChatCompletionChunk if self.plan.chat else CompletionChunk
        return _sse(cls(id=self.rid, created=self.created, model=self.plan.model, usage=usage,
                        ttscale=ttscale))


async def stream_events(plan: Plan, service: ProxyService, rid: str, created: int, *,
                        outcomes: list[Outcome] | None = None) -> AsyncIterator[bytes]:
    """The SSE body of a streamed response. Without progress events the decision is made
    before the stream starts (``outcomes`` given), so upstream failures still get a proper
    502/504; with ``ttscale.progress`` the stream opens at once, reports the samples and
    votes as they arrive, and reports a failure as an ``error`` event."""
    chunks = _Chunks(plan, rid, created)
    opened: set[int] = set()
    if outcomes is None:
        queue: asyncio.Queue[tuple[int, Sample]] = asyncio.Queue()
        task = asyncio.ensure_future(service.run(plan, rid, on_sample=lambda i, s: queue.put_nowait((i, s))))
        try:
            if plan.chat:
                for i in range(plan.n):
                    opened.add(i)
                    yield chunks.role(i)
            counts: list[dict[str, int]] = [{} for _ in range(plan.n)]
            drawn = [0] * plan.n
            while not task.done() or not queue.empty():
                if queue.empty():
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        continue
                    items = [getter.result()]
                else:
                    items = []
                while not queue.empty():
                    items.append(queue.get_nowait())
                for i, s in items:
                    drawn[i] += 1
                    if s.answer is not None:
                        counts[i][s.answer] = counts[i].get(s.answer, 0) + 1
                for i in sorted({i for i, _ in items}):
                    yield chunks.extra(ttscale={"progress": {"choice": i, "samples": drawn[i],
                                                             "answers": counts[i]}})
            try:
                outcomes = task.result()
            except Exception as exc:  # the stream is open: report, do not crash the connection
                if not isinstance(exc, TTScaleError):
                    log.exception("internal error while streaming %s", rid)
                yield _error_chunk(exc)
                return
        finally:
            if not task.done():
                task.cancel()
    for i, o in enumerate(outcomes):
        if plan.chat and i not in opened:
            yield chunks.role(i)
        for piece in _pieces(o.text):
            yield chunks.text(i, piece)
        yield chunks.text(i, "", finish=o.finish_reason)
    tail: dict[str, Any] = {"decision": _decision_info(plan, outcomes).model_dump(exclude_none=True)}
    yield chunks.extra(usage=_usage(outcomes) if plan.include_usage else None, ttscale=tail)
    yield b"data: [DONE]\n\n"


def _error_chunk(exc: BaseException) -> bytes:
    """An in-stream error event (the stream is already open, so no HTTP status can carry it)."""
    from ..errors import BackendError
    from .protocol import ErrorDetail, ErrorResponse

    if isinstance(exc, BackendError):
        timeout = "timed out" in str(exc).lower()
        detail = ErrorDetail(message=str(exc), type="upstream_error",
                             code="upstream_timeout" if timeout else "upstream_error")
    elif isinstance(exc, ConfigError):
        detail = ErrorDetail(message=str(exc), param=exc.field, code="invalid_value")
    else:
        detail = ErrorDetail(message="internal server error", type="server_error", code="internal_error")
    return b"data: " + ErrorResponse(error=detail).model_dump_json().encode() + b"\n\n"


def now() -> int:
    return int(time.time())

