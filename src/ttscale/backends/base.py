"""The Backend interface: ``generate(prompt, n, config, seed)`` → n Generations.

Backends are async so the engine can keep many requests in flight; in-process backends
run their compute in a worker thread. ``n`` samples of one prompt come from one call so a
backend can share the prompt's prefill (the embedded backend) or send ``n`` upstream in
one request (the HTTP backend)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..config import SamplingConfig
from ..types import Generation, Prompt

__all__ = ["Backend"]


@runtime_checkable
class Backend(Protocol):
    #: model identifier recorded in every sample
    model: str

    async def generate(self, prompt: Prompt, n: int, config: SamplingConfig,
                       seed: int | None = None) -> list[Generation]:
        """Return exactly ``n`` generations for ``prompt``; raise BackendError on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections/threads. Safe to call twice."""
        ...
