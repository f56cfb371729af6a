"""Helpers for the proxy tests: the instant recording upstream (``benchmarks/peers/upstream.py``,
a real HTTP server in a subprocess) and the proxy served in a background thread."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "benchmarks" / "peers" / "upstream.py"


@contextlib.contextmanager
def fake_upstream(latency_ms: float = 0.0, dist: str = "12=0.4,7=0.35,30=0.25") -> Iterator[str]:
    """The recording upstream on a free loopback port; yields its base URL (``.../v1``)."""
    proc = subprocess.Popen([sys.executable, str(UPSTREAM), "--port", "0", "--latency-ms", str(latency_ms),
                             "--dist", dist], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        proc.kill()
        proc.wait()


def upstream_stats(url: str) -> dict[str, int]:
    return httpx.get(url.removesuffix("/v1") + "/_stats", timeout=10).json()


def upstream_reset(url: str) -> None:
    httpx.post(url.removesuffix("/v1") + "/_reset", timeout=10)


@contextlib.contextmanager
def proxy_thread(upstream: str, **options: Any) -> Iterator[str]:
    """``ttscale serve --upstream`` in a background thread of this process (same code path
    as the CLI: make_server); yields the proxy's base URL (``.../v1``)."""
    from ttscale.server.app import ProxyOptions, make_server

    opts = dataclasses.replace(ProxyOptions(upstream=upstream, port=0), **options)
    server, sock = make_server(opts)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the proxy did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with fake_upstream() as url:
        yield url


@pytest.fixture(scope="module")
def proxy(upstream: str) -> Iterator[str]:
    """A proxy with math answer extraction by default, in front of the recording upstream."""
    with proxy_thread(upstream, answer="math", max_n=4, max_samples=32, max_tokens=512) as url:
        yield url
