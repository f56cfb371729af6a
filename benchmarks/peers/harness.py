"""Shared pieces of the proxy benchmarks: start servers, drive load, measure CPU, score answers.

Why a hand-written HTTP/1.1 load client: on a 2-core machine the client, the proxy and the
upstream share the CPU, so a heavyweight client (httpx, the openai SDK) would measure
itself. This one keeps one keep-alive connection per virtual client (reconnecting when a
server answers ``Connection: close``, as optillm's werkzeug server does for every request),
sends pre-encoded bodies and parses only the status line, Content-Length and Connection;
bodies are kept and scored after the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
UPSTREAM = HERE / "upstream.py"
ANSWER = re.compile(r"The answer is (\w+)")


def _read_url(proc: subprocess.Popen[str], pattern: str, timeout: float, what: str) -> str:
    """Wait for a line matching ``pattern`` (group 1 = URL or port) on the process's stdout."""
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
            continue
        m = rx.search(line)
        if m:
            return m.group(1)
    raise RuntimeError(f"{what} was not ready within {timeout:.0f}s")


def start_upstream(latency_ms: float = 0.0, dist: str = "12=0.4,7=0.35,30=0.25",
                   model: str = "mock-model", python: str = sys.executable) -> tuple[subprocess.Popen[str], str]:
    """The instant upstream (``upstream.py``) on a free loopback port; returns (process, base URL)."""
    proc = subprocess.Popen([python, str(UPSTREAM), "--port", "0", "--latency-ms", str(latency_ms),
                             "--dist", dist, "--model", model], stdout=subprocess.PIPE, text=True)
    port = _read_url(proc, r"PORT (\d+)", 30, "upstream")
    return proc, f"http://127.0.0.1:{port}/v1"


def start_ttscale(upstream: str, *args: str, env: dict[str, str] | None = None,
                  timeout: float = 60) -> tuple[subprocess.Popen[str], str]:
    """``ttscale serve --upstream URL --port 0 ...``; returns (process, base URL ending in /v1)."""
    proc = subprocess.Popen([sys.executable, "-m", "ttscale", "serve", "--upstream", upstream, "--port", "0",
                             *args], stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
                            env={**os.environ, **(env or {})})
    url = _read_url(proc, r"listening on (http://\S+)", timeout, "ttscale serve")
    return proc, url


def stop(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (psutil)."""
    import psutil

    total = 0.0
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for q in procs:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_mb(pid: int) -> float:
    import psutil

    try:
        p = psutil.Process(pid)
        return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20
    except psutil.NoSuchProcess:
        return 0.0


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    duration: float = 0.0
    latencies: list[float] = field(default_factory=list)
    bodies: list[tuple[str, bytes]] = field(default_factory=list)  # (question id, body)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))]


async def _client(host: str, port: int, path: str, make_body: Any, wid: int, stop_at: float,
                  max_requests: int | None, headers: str, out: LoadResult, keep: bool) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while time.monotonic() < stop_at and (max_requests is None or i < max_requests):
            qid = f"w{wid}-{i}"
            body = make_body(qid)
            head = (f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
                    f"{headers}content-length: {len(body)}\r\n\r\n").encode()
            t0 = time.perf_counter()
            if writer.is_closing():  # the server closed the last one (a cost of that server)
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            close = status_line.startswith(b"HTTP/1.0")
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"connection":
                    close = value.strip().lower() == b"close"
            payload = await reader.readexactly(length) if length else b""
            if close:  # e.g. werkzeug (optillm) answers every request with "Connection: close"
                writer.close()
            out.latencies.append(time.perf_counter() - t0)
            status = int(status_line.split()[1]) if status_line else 0
            out.statuses[status] = out.statuses.get(status, 0) + 1
            out.requests += 1
            if status != 200:
                out.errors += 1
            elif keep:
                out.bodies.append((qid, payload))
            i += 1
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        out.errors += 1
    finally:
        writer.close()


async def drive(url: str, path: str, make_body: Any, concurrency: int, duration: float,
                max_requests: int | None = None, api_key: str | None = None, keep: bool = True) -> LoadResult:
    """``concurrency`` keep-alive clients POSTing ``make_body(question_id)`` to ``url+path``
    back to back for ``duration`` seconds (or ``max_requests`` each)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    full = parts.path.rstrip("/") + path
    headers = f"authorization: Bearer {api_key}\r\n" if api_key else ""
    out = LoadResult()
    t0 = time.monotonic()
    stop_at = t0 + duration
    await asyncio.gather(*[_client(host, port, full, make_body, w, stop_at, max_requests, headers, out, keep)
                           for w in range(concurrency)])
    out.duration = time.monotonic() - t0
    return out


def run_load(*args: Any, **kwargs: Any) -> LoadResult:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(drive(*args, **kwargs))


def chat_body(model: str, extra: dict[str, Any] | None = None, n: int | None = None) -> Any:
    """A body factory: a chat request whose prompt carries the question id."""
    def make(qid: str) -> bytes:
        body: dict[str, Any] = {"model": model, "max_tokens": 32,
                                "messages": [{"role": "user", "content": f"[q:{qid}] Solve the problem."}]}
        if n is not None:
            body["n"] = n
        if extra:
            body.update(extra)
        return json.dumps(body).encode()
    return make


def returned_answer(body: bytes) -> str | None:
    try:
        data = json.loads(body)
        choice = data["choices"][0]
        text = choice["message"]["content"] if "message" in choice else choice["text"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    found = ANSWER.findall(text or "")
    return found[-1] if found else None


def majority_rate(result: LoadResult, upstream: str) -> tuple[float, int]:
    """Fraction of responses whose answer is a true majority (a most frequent answer; ties
    accept any tied answer) of the samples the upstream drew for that question."""
    base = upstream.rsplit("/v1", 1)[0]
    drawn: dict[str, list[str]] = httpx.get(base + "/_drawn", timeout=60).json()
    ok = scored = 0
    for qid, body in result.bodies:
        answers = drawn.get(qid)
        if not answers:
            continue
        counts: dict[str, int] = {}
        for a in answers:
            counts[a] = counts.get(a, 0) + 1
        top = max(counts.values())
        scored += 1
        ok += returned_answer(body) in {a for a, c in counts.items() if c == top}
    return (ok / scored if scored else float("nan")), scored


def reset_upstream(upstream: str) -> None:
    httpx.post(upstream.rsplit("/v1", 1)[0] + "/_reset", timeout=30)


def upstream_stats(upstream: str) -> dict[str, int]:
    return httpx.get(upstream.rsplit("/v1", 1)[0] + "/_stats", timeout=30).json()
