"""A backend that sends each sample stream to one of several models, pricing each.

Why: a cascade (cheap model first, strong model when the vote is not decisive) is still a
policy over sample streams — the strong model's samples are simply the ``strong`` stream.
The engine asks its backend ``for_stream(name)`` when it has that method; this backend
answers with the routed model, so strategies stay model-agnostic and replay of a mixed
bank needs nothing special.

Prices are US dollars per million tokens ``(prompt, completion)`` per route; shared prompt
tokens (``cached_prompt_tokens``) are free, as ttscale counts a shared prompt once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..config import SamplingConfig
from ..errors import ConfigError
from ..types import Generation, Prompt

__all__ = ["RoutedBackend", "PricedBackend"]


class PricedBackend:
    """Wraps a backend and fills ``Usage.cost`` from a price per million tokens."""

    def __init__(self, backend: Any, price: Sequence[float] = (0.0, 0.0)) -> None:
        if len(price) != 2 or any(p < 0 for p in price):
            raise ConfigError("prices", f"expected (prompt, completion) dollars per 1M tokens >= 0, got {price!r}")
        self.backend = backend
        self.price = (float(price[0]), float(price[1]))
        self.model = getattr(backend, "model", "unknown")

    async def generate(self, prompt: Prompt, n: int, config: SamplingConfig,
                       seed: int | None = None) -> list[Generation]:
        gens = await self.backend.generate(prompt, n, config, seed)
        pin, pout = self.price
        return [g.model_copy(update={"usage": g.usage.model_copy(update={
            "cost": g.usage.cost + (g.usage.prompt_tokens * pin + g.usage.completion_tokens * pout) / 1e6})})
            for g in gens]

    async def aclose(self) -> None:
        await self.backend.aclose()


class RoutedBackend:
    """``default`` serves every stream not named in ``routes`` (stream name → backend).
    Backends may be given as registered names (created with no options)."""

    def __init__(self, default: Any, routes: Mapping[str, Any] | None = None,
                 prices: Mapping[str, Sequence[float]] | None = None) -> None:
        prices = dict(prices or {})
        names = {"default", *(routes or {})}
        unknown = sorted(set(prices) - names)
        if unknown:
            raise ConfigError("prices", f"no route named {unknown[0]!r}; routes: {', '.join(sorted(names))}")
        self._routes = {name: PricedBackend(self._make(b), prices.get(name, (0.0, 0.0)))
                        for name, b in (routes or {}).items()}
        self._default = PricedBackend(self._make(default), prices.get("default", (0.0, 0.0)))
        self.model = self._default.model

    @staticmethod
    def _make(b: Any) -> Any:
        if isinstance(b, str):
            from ..registry import backends
            return backends.create(b)
        return b

    def for_stream(self, stream: str) -> Any:
        """The (priced) backend that draws ``stream``."""
        return self._routes.get(stream, self._default)

    async def generate(self, prompt: Prompt, n: int, config: SamplingConfig,
                       seed: int | None = None) -> list[Generation]:
        return await self._default.generate(prompt, n, config, seed)

    async def aclose(self) -> None:
        for b in [self._default, *self._routes.values()]:
            await b.aclose()
