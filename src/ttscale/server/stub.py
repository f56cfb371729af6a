"""A small, fast OpenAI-compatible upstream on raw asyncio, for tests and benchmarks.

Why not FastAPI: a benchmark of an HTTP *client* needs an upstream that costs next to
nothing per request, and fault-injection tests need to misbehave below HTTP's level —
drop a connection mid-request, send a truncated body with a correct ``Content-Length``,
hang past the client's timeout — which a framework would not let us do. The stub speaks
just enough HTTP/1.1 (keep-alive, Content-Length bodies) for httpx and the openai client.

Answers are drawn from a known distribution (``answers``), seeded by the request's
``seed``, so tests and benchmarks know the true majority. Faults are consumed one per
request from ``faults`` (then ``always`` applies to every later request):

``ok`` (no fault), ``timeout`` (hang for ``hang`` s), ``429`` (with ``Retry-After: retry_after``), ``500``,
``503``, ``truncated`` (200 with half a JSON body), ``garbage`` (200 with non-JSON), ``drop``
(close the connection without answering), ``status:NNN`` (that status with an error body).
``reject_n``: answer n>1 with llama.cpp's 400 "Only one completion choice is allowed";
``ignore_n``: answer n>1 with one choice (as Ollama does). ``fixed``: render one response
per request shape and reuse it, ignoring seeds (the cheapest upstream, for benchmarks).

Run ``python -m ttscale.server.stub --port 0`` for a separate process (prints its URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["StubUpstream"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable"}


class StubUpstream:
    """An OpenAI-compatible test server. Use as a context manager (serves in a thread) or
    ``await stub.serve(host, port)`` inside a running loop."""

    def __init__(self, *, answers: Mapping[str, float] | None = None,
                 template: str = "The answer is {answer}", model: str = "stub",
                 faults: Iterable[str] = (), always: str | None = None, reject_n: bool = False,
                 ignore_n: bool = False, retry_after: float = 1.0, hang: float = 30.0,
                 tokens: int = 8, latency: float = 0.0, api_key: str | None = None,
                 port: int = 0, fixed: bool = False) -> None:
        self.answers = dict(answers or {"42": 1.0})
        self.template = template
        self.model = model
        self.faults: deque[str] = deque(faults)
        self.always = always
        self.reject_n = reject_n
        self.ignore_n = ignore_n
        self.retry_after = retry_after
        self.hang = hang
        self.tokens = tokens
        self.latency = latency
        self.api_key = api_key
        self.port = port  # for the threaded mode; 0 = any free port
        self.fixed = fixed  # reuse one rendered response per request shape (ignores seed): benchmarks
        self._cache: dict[str, bytes] = {}
        self.requests: list[dict[str, Any]] = []  # every decoded POST body, in arrival order
        self.url = ""
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # --------------------------------------------------------------------- lifecycle

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = await asyncio.start_server(self._handle, host, port, backlog=4096)
        self.url = f"http://{host}:{self._server.sockets[0].getsockname()[1]}/v1"
        return self.url

    def __enter__(self) -> StubUpstream:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.serve(port=self.port))
            ready.set()
            loop.run_forever()
            loop.run_until_complete(_cancel_others())
            loop.close()

        self._thread = threading.Thread(target=run, name="stub-upstream", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._loop and self._server:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    # ------------------------------------------------------------------------- HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if not await self._respond(method, path, headers, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError,
                asyncio.CancelledError):  # a client went away, or the stub is shutting down
            pass
        finally:
            writer.close()

    def _send(self, writer: asyncio.StreamWriter, status: int, payload: bytes,
              extra: str = "") -> None:
        writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {len(payload)}\r\n{extra}\r\n".encode() + payload)

    async def _respond(self, method: str, path: str, headers: dict[str, str], body: bytes,
                       writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False closes the connection."""
        if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            self._send(writer, 401, _error("Incorrect API key provided"))
            return True
        if method == "GET":
            data = {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "stub"}]}
            self._send(writer, 200, json.dumps(data).encode() if path.endswith("/models")
                       else b'{"status": "ok"}')
            await writer.drain()
            return True
        req = json.loads(body or b"{}")
        self.requests.append(req)
        fault = self.faults.popleft() if self.faults else self.always
        fault = None if fault == "ok" else fault
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault == "drop":
            return False
        if fault == "timeout":
            await asyncio.sleep(self.hang)
            return False
        if fault in ("429", "500", "503") or (fault or "").startswith("status:"):
            status = int(fault.removeprefix("status:"))  # type: ignore[union-attr]
            extra = f"Retry-After: {self.retry_after:g}\r\n" if status == 429 else ""
            self._send(writer, status, _error(f"injected {status}"), extra)
        elif req.get("n", 1) > 1 and self.reject_n:
            self._send(writer, 400, _error("Only one completion choice is allowed"))
        else:
            payload = self._payload(req, chat=path.endswith("/chat/completions"))
            if fault == "truncated":
                payload = payload[: len(payload) // 2]
            elif fault == "garbage":
                payload = b"<html>502 upstream hiccup</html>"
            self._send(writer, 200, payload)
        await writer.drain()
        return True

    def _payload(self, req: dict[str, Any], *, chat: bool) -> bytes:
        if not self.fixed:
            return json.dumps(self._completion(req, chat=chat)).encode()
        key = json.dumps([chat, {k: v for k, v in req.items() if k != "seed"}], sort_keys=True)
        if key not in self._cache:
            self._cache[key] = json.dumps(self._completion(req, chat=chat)).encode()
        return self._cache[key]

    def _completion(self, req: dict[str, Any], *, chat: bool) -> dict[str, Any]:
        n = 1 if self.ignore_n else int(req.get("n", 1))
        rng = random.Random(req.get("seed"))
        answers = rng.choices(list(self.answers), weights=list(self.answers.values()), k=n)
        prompt = req.get("messages") if chat else req.get("prompt")
        ntok = min(self.tokens, int(req.get("max_tokens") or self.tokens))
        top = req.get("top_logprobs") if chat else req.get("logprobs")
        want_lp = bool(req.get("logprobs")) if chat else req.get("logprobs") is not None
        choices = []
        for i, ans in enumerate(answers):
            text = self.template.format(answer=ans)
            choice: dict[str, Any] = {"index": i, "finish_reason": "stop"}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
            else:
                choice["text"] = text
            if want_lp:
                choice["logprobs"] = _logprobs(ntok, int(top or 0), chat, rng)
            choices.append(choice)
        ptok = max(1, len(json.dumps(prompt)) // 4)
        return {"id": "stub-1", "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": self.model, "choices": choices,
                "usage": {"prompt_tokens": ptok, "completion_tokens": ntok * n,
                          "total_tokens": ptok + ntok * n}}


async def _cancel_others() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _logprobs(ntok: int, top: int, chat: bool, rng: random.Random) -> dict[str, Any]:
    values = [round(-rng.random(), 4) for _ in range(ntok)]
    tops = [[v] + [round(v - 1 - j - rng.random(), 4) for j in range(top - 1)] for v in values]
    if chat:
        return {"content": [{"token": f"t{i}", "logprob": v, "bytes": None,
                             "top_logprobs": [{"token": f"t{i}_{j}", "logprob": x, "bytes": None}
                                              for j, x in enumerate(t[:top])]}
                            for i, (v, t) in enumerate(zip(values, tops, strict=True))]}
    return {"tokens": [f"t{i}" for i in range(ntok)], "token_logprobs": values,
            "top_logprobs": [{f"t{i}_{j}": x for j, x in enumerate(t[:top])} for i, t in enumerate(tops)]
            if top else None, "text_offset": list(range(ntok))}


def _error(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                 "param": None, "code": None}}).encode()


def main() -> None:
    p = argparse.ArgumentParser(description="a fast OpenAI-compatible stub upstream")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tokens", type=int, default=8)
    p.add_argument("--answers", default='{"42": 0.6, "41": 0.3, "7": 0.1}', help="JSON answer → probability")
    p.add_argument("--fixed", action="store_true",
                   help="render one response per request shape and reuse it (seeds ignored): "
                        "the cheapest possible upstream, for client benchmarks")
    args = p.parse_args()

    async def run() -> None:
        stub = StubUpstream(answers=json.loads(args.answers), tokens=args.tokens, fixed=args.fixed)
        print(f"stub: listening on {await stub.serve(args.host, args.port)}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
