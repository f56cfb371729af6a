"""``ttscale serve``: the OpenAI API in front of the embedded model (``--model``) or in front
of another server with a strategy applied to every request (``--upstream``, the proxy).

Both modes bind 127.0.0.1 by default and refuse any other address unless ``--api-key`` is
set. The listening URL is printed on stdout as ``ttscale serve: listening on URL`` once the
model is loaded, so scripts (and the test fixtures) can start the server on ``--port 0`` and
read the port back instead of guessing a free one.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any

from ..errors import ConfigError, MissingDependencyError
from ..server.wire import ServerLimits, require_safe_bind

__all__ = ["add_parser", "main", "bind_socket", "serve_app"]


def add_parser(sub: Any, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("serve", help=help_text, description=(
        "Serve the OpenAI API (/v1/models, /v1/completions, /v1/chat/completions, /health). "
        "--model serves the embedded model (a GGUF file, an HF directory, or 'default'); "
        "--upstream URL runs a strategy proxy in front of another OpenAI-compatible server. "
        "Binds 127.0.0.1 unless --host is given; a non-loopback --host requires --api-key."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--model", nargs="?", const="default", default=None, metavar="PATH|default",
                      help="serve this model in-process (the default when --upstream is not given)")
    mode.add_argument("--upstream", default=None, metavar="URL",
                      help="proxy mode: the OpenAI-compatible server to draw samples from")
    p.add_argument("--backend", default="hf", help="model mode: registered backend that loads --model")
    p.add_argument("--served-model-name", default=None,
                   help="model mode: the name clients use (default: the backend's model id)")
    p.add_argument("--batch-window-ms", type=float, default=5.0,
                   help="model mode: merge unseeded requests for the same prompt arriving this close (0: off)")
    p.add_argument("--upstream-api-key", default=os.environ.get("TTSCALE_UPSTREAM_API_KEY"),
                   help="proxy mode: key for the upstream (or $TTSCALE_UPSTREAM_API_KEY)")
    p.add_argument("--strategy", default="sc", help="proxy mode: default strategy spec NAME[:k=v,...]")
    p.add_argument("--log-store", default=None, metavar="DIR",
                   help="proxy mode: record every decision in a sample store in DIR")
    p.add_argument("--max-samples", type=int, default=64, help="proxy mode: most samples per request")
    p.add_argument("--answer", default=None, choices=["math", "choice", "code", "text", "free"],
                   help="proxy mode: answer extraction for requests that name none "
                        "(default: free-form, decided by universal self-consistency)")
    p.add_argument("--max-concurrency-per-key", type=int, default=256,
                   help="proxy mode: requests in flight per client key (429 beyond)")
    p.add_argument("--upstream-concurrency", type=int, default=256,
                   help="proxy mode: requests in flight to the upstream")
    p.add_argument("--upstream-timeout", type=float, default=120.0,
                   help="proxy mode: seconds per upstream request (504 after the retries)")
    p.add_argument("--upstream-retries", type=int, default=2,
                   help="proxy mode: retries of a failed upstream request (502 after them)")
    p.add_argument("--shutdown-timeout", type=float, default=30.0,
                   help="proxy mode: seconds to finish in-flight requests on SIGINT/SIGTERM")
    p.add_argument("--access-log", action="store_true", help="proxy mode: log every request")
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=int, default=8000, help="port to bind (0: any free port)")
    p.add_argument("--api-key", default=os.environ.get("TTSCALE_API_KEY"),
                   help="require this bearer key from clients (or $TTSCALE_API_KEY)")
    p.add_argument("--max-n", type=int, default=ServerLimits.max_n, help="largest n per request")
    p.add_argument("--max-tokens", type=int, default=ServerLimits.max_tokens, help="largest max_tokens per request")
    p.add_argument("--max-body-bytes", type=int, default=ServerLimits.max_body_bytes,
                   help="largest request body")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return p


def limits_from_args(args: argparse.Namespace) -> ServerLimits:
    for name in ("max_n", "max_tokens", "max_body_bytes"):
        if getattr(args, name) < 1:
            raise ConfigError(name, f"must be >= 1 (got {getattr(args, name)})")
    return ServerLimits(max_n=args.max_n, max_tokens=args.max_tokens, max_body_bytes=args.max_body_bytes)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before serving so ``--port 0`` works and a busy port is a clear error."""
    if not 0 <= port <= 65535:
        raise ConfigError("port", f"must be in 0..65535 (got {port})")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise ConfigError("port" if "in use" in str(exc) else "host",
                          f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_app(app: Any, host: str, port: int, log_level: str = "warning") -> None:
    """Run ``app`` with uvicorn on a pre-bound socket and announce the URL on stdout."""
    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError("ttscale serve", "server") from None
    sock = bind_socket(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=30)
    server = uvicorn.Server(config)
    print(f"ttscale serve: listening on http://{shown}:{bound}/v1", flush=True)
    server.run(sockets=[sock])


def main(args: argparse.Namespace) -> int:
    require_safe_bind(args.host, args.api_key)
    limits_from_args(args)
    if args.upstream:
        from ..server.app import run_proxy
        return int(run_proxy(args) or 0)
    return serve_model(args)


def serve_model(args: argparse.Namespace) -> int:
    from ..registry import backends
    from ..server.model_host import create_app

    if args.batch_window_ms < 0:
        raise ConfigError("batch_window_ms", f"must be >= 0 (got {args.batch_window_ms})")
    model = None if args.model in (None, "default") else args.model
    print(f"ttscale serve: loading {args.backend} model {model or '(default)'} ...", file=sys.stderr, flush=True)
    backend = backends.create(args.backend, **({"model": model} if model else {}))  # loads now
    app = create_app(backend, served_model=args.served_model_name, api_key=args.api_key,
                     limits=limits_from_args(args), batch_window=args.batch_window_ms / 1000)
    serve_app(app, args.host, args.port, args.log_level)
    return 0
