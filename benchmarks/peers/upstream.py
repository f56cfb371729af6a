"""An instant OpenAI-compatible upstream with a known answer distribution, for the proxy's
tests and benchmarks.

Why a hand-written asyncio server: the load benchmarks measure what a *proxy* adds, so the
upstream must cost as little CPU as possible (≈2,700 req/s here when called directly) and
must record what it drew. Every completion says "... The answer is X." with X drawn from
the distribution; a prompt containing ``[q:ID]`` has its drawn answers recorded under ID,
so a benchmark can compute the true majority of the samples a proxy actually drew, and a
prompt containing ``[dist:A=0.6,B=0.4]`` overrides the distribution for that prompt.

Endpoints: ``POST /v1/chat/completions``, ``POST /v1/completions`` (``n``, ``seed``,
``logprobs`` honoured; usage counts the prompt once per call), ``GET /v1/models``,
``GET /_stats`` (calls and token totals), ``GET /_drawn`` (answers per question id),
``POST /_reset``.

    python benchmarks/peers/upstream.py --port 0 --latency-ms 50 --dist 12=0.4,7=0.35,30=0.25

prints ``PORT <n>`` on stdout once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
from typing import Any

try:
    import orjson

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is optional here
    def dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    loads = json.loads

FILLER = ("first", "we", "note", "that", "the", "count", "goes", "so", "then", "check", "each",
          "case", "carefully", "and", "add", "up", "values", "again")
_Q = re.compile(r"\[q:([\w.-]+)\]")
_DIST = re.compile(r"\[dist:([^\]]+)\]")


def parse_dist(spec: str) -> dict[str, float]:
    """``"12=0.4,7=0.35"`` → {"12": 0.4, "7": 0.35}."""
    out: dict[str, float] = {}
    for item in filter(None, spec.split(",")):
        key, _, p = item.partition("=")
        out[key.strip()] = float(p)
    return out


class Upstream:
    """State shared by all connections: the distribution, counters, drawn answers."""

    def __init__(self, dist: dict[str, float], latency: float, model: str, seed: int) -> None:
        self.dist = dist
        self.latency = latency
        self.model = model
        self.rng = random.Random(seed)
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.choices = 0
        self.drawn: dict[str, list[str]] = {}

    def complete(self, body: dict[str, Any], chat: bool) -> dict[str, Any]:
        if chat:
            prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        else:
            prompt = str(body.get("prompt", ""))
        n = int(body.get("n") or 1)
        rng = random.Random(body["seed"]) if body.get("seed") is not None else self.rng
        m = _DIST.search(prompt)
        dist = parse_dist(m.group(1)) if m else self.dist
        answers = rng.choices(list(dist), weights=list(dist.values()), k=n)
        q = _Q.search(prompt)
        if q:
            self.drawn.setdefault(q.group(1), []).extend(answers)
        prompt_tokens = max(1, len(prompt.split()))
        choices = []
        completion = 0
        want_lp = bool(body.get("logprobs"))
        for i, ans in enumerate(answers):
            words = rng.sample(FILLER, 6)
            text = f"Let me think: {' '.join(words)}. The answer is {ans}."
            ntok = len(text.split())
            completion += ntok
            lp: Any = None
            if want_lp:
                toks = [{"token": w, "logprob": -0.1 - 0.01 * j, "top_logprobs": []}
                        for j, w in enumerate(text.split())]
                lp = {"content": toks} if chat else {
                    "tokens": [t["token"] for t in toks], "token_logprobs": [t["logprob"] for t in toks],
                    "top_logprobs": None, "text_offset": None}
            if chat:
                choices.append({"index": i, "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop", "logprobs": lp})
            else:
                choices.append({"index": i, "text": text, "finish_reason": "stop", "logprobs": lp})
        self.calls += 1
        self.choices += n
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion
        return {"id": f"up-{self.calls}", "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": body.get("model", self.model), "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                          "total_tokens": prompt_tokens + completion}}

    async def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
            try:
                data = loads(body)
            except ValueError:
                return 400, dumps({"error": {"message": "malformed JSON", "type": "invalid_request_error"}})
            if self.latency:
                await asyncio.sleep(self.latency)
            return 200, dumps(self.complete(data, chat=path.endswith("chat/completions")))
        if path == "/v1/models":
            return 200, dumps({"object": "list", "data": [{"id": self.model, "object": "model",
                                                         "owned_by": "upstream"}]})
        if path == "/_stats":
            return 200, dumps({"calls": self.calls, "choices": self.choices,
                               "prompt_tokens": self.prompt_tokens,
                               "completion_tokens": self.completion_tokens})
        if path == "/_drawn":
            return 200, dumps(self.drawn)
        if path == "/_reset":
            self.calls = self.choices = self.prompt_tokens = self.completion_tokens = 0
            self.drawn = {}
            return 200, b"{}"
        return 404, dumps({"error": {"message": f"no route {path}", "type": "not_found"}})


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; bodies by Content-Length only (all clients here)."""

    def __init__(self, up: Upstream) -> None:
        self.up = up
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            length = 0
            close = False
            for line in head[1:]:
                name, _, value = line.partition(":")
                lname = name.strip().lower()
                if lname == "content-length":
                    length = int(value)
                elif lname == "connection" and value.strip().lower() == "close":
                    close = True
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            body = self.buf[head_end + 4:end]
            self.buf = self.buf[end:]
            asyncio.ensure_future(self._respond(method, path.split("?")[0], body, close))

    async def _respond(self, method: str, path: str, body: bytes, close: bool) -> None:
        status, payload = await self.up.handle(method, path, body)
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(payload)}\r\n\r\n".encode() + payload)
        if close:
            self.transport.close()


async def serve(port: int, latency_ms: float, dist: dict[str, float], model: str, seed: int,
                ready: Any = None) -> None:
    up = Upstream(dist, latency_ms / 1000.0, model, seed)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Conn(up), "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(bound)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--dist", default="12=0.4,7=0.35,30=0.25")
    ap.add_argument("--model", default="mock-model")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass

    def ready(port: int) -> None:
        print(f"PORT {port}", flush=True)

    try:
        asyncio.run(serve(args.port, args.latency_ms, parse_dist(args.dist), args.model, args.seed, ready))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
