"""OpenAI wire models: the JSON that crosses HTTP, kept apart from ttscale's internal config.

One place for the request and response shapes of ``/v1/completions``,
``/v1/chat/completions`` and ``/v1/models``, shared by the model host
(``ttscale serve --model``) and the strategy proxy (``ttscale serve --upstream``). The only
way from a request to internal config is the explicit conversion at the bottom
(:func:`prompt_from_request`, :func:`sampling_from_request`), so a reader can see every field
that matters for generation in one function.

Requests allow unknown fields (OpenAI clients send many we do not use; the proxy subclasses
these models to add its own). Validation errors become :class:`~ttscale.errors.ConfigError`
naming the field (``parse_request``), which the servers turn into OpenAI-style 400s.

Extension: each response choice may carry ``ttscale`` (:class:`ChoiceStats`) with the exact
per-sample statistics ttscale records (completion tokens, log-prob sum/mean/min, entropy and
self-certainty means and how they were obtained). Standard clients ignore it; ttscale's HTTP
backend prefers it to re-deriving the numbers from per-token log-probs, which is how a run
over HTTP stores the same numbers as the in-process backend.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import SamplingConfig, validate_model
from ..errors import ConfigError
from ..types import Generation, Message, Prompt

__all__ = [
    "WireModel", "ChatMessage", "CompletionRequest", "ChatCompletionRequest", "ChoiceStats",
    "UsageInfo", "PromptTokensDetails", "CompletionLogprobs", "CompletionChoice",
    "CompletionResponse", "TopLogprob", "ChatTokenLogprob", "ChatChoiceLogprobs",
    "AssistantMessage", "ChatChoice", "ChatCompletionResponse", "ModelCard", "ModelList",
    "ErrorDetail", "ErrorResponse", "parse_request", "prompt_from_request",
    "sampling_from_request", "stats_from_generation", "new_id", "DEFAULT_COMPLETION_MAX_TOKENS",
    # the strategy proxy's extensions (ttscale serve --upstream)
    "TTScaleOptions", "ProxyCompletionRequest", "ProxyChatCompletionRequest", "DecisionInfo",
    "ProxyCompletionResponse", "ProxyChatCompletionResponse", "ChatDelta", "ChatChunkChoice",
    "ChatCompletionChunk", "CompletionChunkChoice", "CompletionChunk",
]

#: OpenAI's documented default for ``/v1/completions`` when ``max_tokens`` is absent
DEFAULT_COMPLETION_MAX_TOKENS = 16


class WireModel(BaseModel):
    """Base of request models: unknown fields are accepted (and ignored) like OpenAI does."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# ---------------------------------------------------------------------------------- requests


class ChatMessage(WireModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message's text; content-part lists keep their ``text`` parts only."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type", "text") == "text")


class _SamplingFields(WireModel):
    """Fields both endpoints share. ``top_k`` is the common vLLM/llama.cpp extension
    (``-1``/``0`` mean "off", as in vLLM)."""

    model: str = Field(min_length=1)
    n: int = Field(1, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=-1)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)  # int64, as OpenAI documents
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    user: str | None = None


class CompletionRequest(_SamplingFields):
    """``POST /v1/completions``. ``logprobs`` is the number of top log-probs per token
    (0 = only the sampled token's)."""

    prompt: str | list[str]
    logprobs: int | None = Field(None, ge=0, le=20)
    echo: bool = False


class ChatCompletionRequest(_SamplingFields):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)


T = TypeVar("T", bound=BaseModel)


def parse_request(cls: type[T], data: Any) -> T:
    """Validate a decoded JSON body; a bad field raises ConfigError naming it (e.g. ``n``,
    ``messages.0.role``)."""
    if not isinstance(data, dict):
        raise ConfigError("body", f"expected a JSON object, got {type(data).__name__}")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(_param(err["loc"]) or cls.__name__, err["msg"]) from None


def _param(loc: tuple[int | str, ...]) -> str:
    """The field path of a pydantic error location without union-member tags:
    ``("stop", "str")`` → ``stop``, ``("messages", 0, "role")`` → ``messages.0.role``,
    ``("ttscale", "answer")`` → ``ttscale.answer``. Wire field names are snake_case; tags are
    type names (``str``, ``list[str]``, ``TTScaleOptions``, ``function-after[...]``)."""
    keep = [str(x) for x in loc
            if isinstance(x, int) or (_FIELD.fullmatch(x) and x not in _TYPE_TAGS)]
    return ".".join(keep)


_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "tuple", "none", "bytes"})


# --------------------------------------------------------------------------------- responses


class ChoiceStats(BaseModel):
    """ttscale's per-choice extension: the sample statistics of :class:`~ttscale.types.Generation`.
    ``distribution`` says whether entropy/self-certainty are exact (``full``), approximated
    from top-k log-probs (``top_k``) or unavailable (``none``)."""

    completion_tokens: int
    logprob_sum: float | None = None
    logprob_mean: float | None = None
    logprob_min: float | None = None
    entropy_mean: float | None = None
    self_certainty_mean: float | None = None
    distribution: Literal["full", "top_k", "none"] = "none"


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0


class UsageInfo(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None


class CompletionLogprobs(BaseModel):
    tokens: list[str] = Field(default_factory=list)
    token_logprobs: list[float | None] = Field(default_factory=list)
    top_logprobs: list[dict[str, float] | None] | None = None
    text_offset: list[int] = Field(default_factory=list)


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: str | None = "stop"
    logprobs: CompletionLogprobs | None = None
    ttscale: ChoiceStats | None = None


class CompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: new_id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: UsageInfo = Field(default_factory=UsageInfo)
    system_fingerprint: str | None = None


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class ChatTokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class ChatChoiceLogprobs(BaseModel):
    content: list[ChatTokenLogprob] | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: str | None = "stop"
    logprobs: ChatChoiceLogprobs | None = None
    ttscale: ChoiceStats | None = None


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: new_id("chatcmpl"))
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatChoice]
    usage: UsageInfo = Field(default_factory=UsageInfo)
    system_fingerprint: str | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "ttscale"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorDetail


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


# ------------------------------------------------------------ the one explicit conversion


def prompt_from_request(req: CompletionRequest | ChatCompletionRequest) -> Prompt:
    """What the backend sees: the text prompt, or the chat messages as plain dicts."""
    if isinstance(req, ChatCompletionRequest):
        messages: list[Message] = [{"role": m.role, "content": m.text()} for m in req.messages]
        return messages
    if isinstance(req.prompt, list):
        if len(req.prompt) != 1:
            raise ConfigError("prompt", f"send one prompt per request (got a list of {len(req.prompt)})")
        return req.prompt[0]
    return req.prompt


def sampling_from_request(req: CompletionRequest | ChatCompletionRequest, *,
                          max_tokens_cap: int | None = None) -> SamplingConfig:
    """The SamplingConfig a request asks for. ttscale's HTTP backend writes these fields
    from a SamplingConfig, so the round trip is exact (which is what makes a run through
    the model host reproduce an in-process run). ``max_tokens_cap`` is the server's limit."""
    if isinstance(req, ChatCompletionRequest):
        max_tokens = req.max_completion_tokens or req.max_tokens or max_tokens_cap
        logprobs, top = req.logprobs, (req.top_logprobs or 0)
        if top and not logprobs:
            raise ConfigError("top_logprobs", "requires logprobs=true")
    else:
        max_tokens = req.max_tokens or DEFAULT_COMPLETION_MAX_TOKENS
        logprobs, top = req.logprobs is not None, (req.logprobs or 0)
    if max_tokens_cap is not None and max_tokens is not None and max_tokens > max_tokens_cap:
        field = "max_completion_tokens" if getattr(req, "max_completion_tokens", None) else "max_tokens"
        raise ConfigError(field, f"must be <= {max_tokens_cap} on this server (got {max_tokens})")
    stop = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
    top_k = req.top_k if req.top_k and req.top_k > 0 else None
    data: dict[str, Any] = {"temperature": req.temperature, "top_p": req.top_p, "top_k": top_k,
                            "stop": stop, "logprobs": logprobs, "top_logprobs": top}
    if max_tokens is not None:
        data["max_tokens"] = max_tokens
    result: SamplingConfig = validate_model(SamplingConfig, data)
    return result


def stats_from_generation(g: Generation) -> ChoiceStats:
    """The ``ttscale`` choice extension for one generation."""
    return ChoiceStats(completion_tokens=g.usage.completion_tokens, logprob_sum=g.logprob_sum,
                       logprob_mean=g.logprob_mean, logprob_min=g.logprob_min,
                       entropy_mean=g.entropy_mean, self_certainty_mean=g.self_certainty_mean,
                       distribution=g.distribution)


# ------------------------------------------------- the strategy proxy (ttscale serve --upstream)


class TTScaleOptions(WireModel):
    """``extra_body={"ttscale": {...}}`` on a proxy request.

    ``strategy`` is a registered strategy name or a spec (``"beta:threshold=0.9"``); every key
    this model does not name (or the ``params`` dict) is a strategy parameter, so
    ``{"strategy": "sc", "n": 16}`` works. ``answer`` picks how answers are extracted
    (``math``, ``choice``, ``code``, ``text``; ``free`` = free-form, decided by universal
    self-consistency) and ``regex`` extracts the first group (or whole match) of the last
    match instead. ``progress`` adds progress events to a stream while sampling."""

    strategy: str | None = Field(None, min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    answer: Literal["math", "choice", "code", "text", "free"] | None = None
    regex: str | None = Field(None, min_length=1, max_length=500)
    progress: bool = False

    def strategy_params(self) -> dict[str, Any]:
        return {**(self.model_extra or {}), **self.params}


class ProxyCompletionRequest(CompletionRequest):
    ttscale: TTScaleOptions | None = None


class ProxyChatCompletionRequest(ChatCompletionRequest):
    ttscale: TTScaleOptions | None = None


class DecisionInfo(BaseModel):
    """The proxy's ``ttscale`` response field: how the answer was decided and what it cost.
    ``votes`` maps each answer to its (weighted) vote; ``samples`` and ``verifier_calls``
    count what the strategy used; ``usage`` repeats the token totals with cached prompt
    tokens split out; ``choices`` holds one entry per choice when ``n > 1``."""

    strategy: str
    answer: str | None = None
    votes: dict[str, float] = Field(default_factory=dict)
    confidence: float = 0.0
    samples: int = 0
    verifier_calls: int = 0
    cost: float = 0.0
    upstream_model: str = ""
    choices: list[DecisionInfo] | None = None


class ProxyCompletionResponse(CompletionResponse):
    ttscale: DecisionInfo


class ProxyChatCompletionResponse(ChatCompletionResponse):
    ttscale: DecisionInfo


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: ChatDelta
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    """One SSE event of a streamed chat completion (serialised without null fields).
    A chunk with no choices carries ``usage`` (the final one) or ``ttscale`` progress."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice] = Field(default_factory=list)
    usage: UsageInfo | None = None
    ttscale: dict[str, Any] | None = None


class CompletionChunkChoice(BaseModel):
    index: int
    text: str
    finish_reason: str | None = None


class CompletionChunk(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChunkChoice] = Field(default_factory=list)
    usage: UsageInfo | None = None
    ttscale: dict[str, Any] | None = None
