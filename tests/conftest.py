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


def ttscale_serve(*args: str, timeout: float = 300.0) -> Any:
    """Start ``ttscale serve ARGS --port 0`` as a subprocess; a context manager yielding its
    base URL (``http://127.0.0.1:PORT/v1``) once it listens and ``/health`` answers, and
    stopping it (SIGTERM, then SIGKILL) on exit. Reusable for the model host and the proxy."""
    import contextlib
    import queue
    import subprocess
    import sys
    import threading
    import time

    import httpx

    @contextlib.contextmanager
    def run() -> Iterator[str]:
        cmd = [sys.executable, "-m", "ttscale", "serve", *args, "--port", "0"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: queue.Queue[str] = queue.Queue()
        log: list[str] = []

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.append(line)
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        try:
            deadline = time.monotonic() + timeout
            url = None
            while url is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"`{' '.join(cmd)}` did not start:\n{''.join(log)[-3000:]}")
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    continue
                if "listening on " in line:
                    url = line.rsplit("listening on ", 1)[1].strip()
            while True:
                try:
                    if httpx.get(url.removesuffix("/v1") + "/health", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"`{' '.join(cmd)}` never became healthy:\n{''.join(log)[-3000:]}")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    return run()


@pytest.fixture(scope="session")
def model_host_url() -> Iterator[str]:
    """A real model host (``ttscale serve --model default``, the embedded Gemma 3 270M) on a
    free loopback port, started once per session; its base URL ends in ``/v1``."""
    with ttscale_serve("--model", "default") as url:
        yield url
