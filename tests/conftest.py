"""Shared fixtures. The real embedded model is loaded once per test session."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedded_backend() -> Iterator[Any]:
    """The real Gemma 3 270M backend (in-process, CPU)."""
    from ttscale.registry import backends

    backend = backends.create("hf")
    yield backend
    asyncio.run(backend.aclose())
