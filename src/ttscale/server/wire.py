"""HTTP plumbing shared by ttscale's OpenAI-compatible servers (model host and proxy).

Everything between the socket and a validated request model: size-limited body reading,
JSON decoding, bearer-key checks, the loopback rule for binding, and the translation of
ttscale's exceptions into OpenAI-style error responses (``{"error": {"message", "type",
"param", "code"}}``). Servers install :func:`install_error_handlers` once and then simply
raise: ``ConfigError`` → 400 naming the field, ``WireError`` → its own status,
``BackendError`` → 502 (504 for timeouts), anything else → 500 without internals
(:func:`error_for`, which the proxy's direct routes use too).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any

from ..errors import BackendError, ConfigError, UserError
from .protocol import ErrorDetail, ErrorResponse

__all__ = ["ServerLimits", "WireError", "error_for", "read_json", "check_bearer",
           "is_loopback", "require_safe_bind", "install_error_handlers"]

log = logging.getLogger("ttscale.server")


@dataclass(frozen=True)
class ServerLimits:
    """Per-request limits a server enforces before doing any work."""

    max_n: int = 64
    max_tokens: int = 1024
    max_body_bytes: int = 1_000_000


class WireError(Exception):
    """An HTTP error with an OpenAI-style body."""

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None, type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type


async def read_json(request: Any, max_bytes: int) -> Any:
    """The request body decoded as JSON, refusing bodies over ``max_bytes`` *before* reading
    them whole (declared Content-Length) or as soon as the stream passes the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise WireError(400, f"request body is {declared} bytes; this server accepts at most {max_bytes}",
                        param="body", code="request_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise WireError(400, f"request body exceeds {max_bytes} bytes", param="body",
                            code="request_too_large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WireError(400, f"malformed JSON body: {exc}", param="body", code="invalid_json") from None


def check_bearer(request: Any, api_key: str | None) -> None:
    """Require ``Authorization: Bearer <api_key>`` when a key is configured (constant-time)."""
    if not api_key:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
        raise WireError(401, "missing or invalid API key (send Authorization: Bearer <key>)",
                        code="invalid_api_key")


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_safe_bind(host: str, api_key: str | None) -> None:
    """Refuse to expose a server beyond this machine without a bearer key."""
    if not is_loopback(host) and not api_key:
        raise ConfigError("host", f"binding to {host} exposes the server beyond this machine; "
                          "set --api-key (clients then send it as a bearer token) or bind 127.0.0.1")


def error_for(exc: Exception, path: str = "") -> tuple[int, ErrorResponse]:
    """The HTTP status and OpenAI-style body of an exception raised while serving ``path``:
    ``WireError`` → its own status, ``ConfigError`` → 400 naming the field, other
    ``UserError`` → 400, ``BackendError`` → 502 (504 for timeouts), anything else → 500
    without internals (logged with its traceback)."""
    if isinstance(exc, WireError):
        detail = ErrorDetail(message=exc.message, type=exc.type, param=exc.param, code=exc.code)
        return exc.status, ErrorResponse(error=detail)
    if isinstance(exc, ConfigError):
        return 400, ErrorResponse(error=ErrorDetail(message=str(exc), param=exc.field, code="invalid_value"))
    if isinstance(exc, BackendError):
        timeout = "timed out" in str(exc).lower()
        log.warning("backend error on %s: %s", path, exc)
        return 504 if timeout else 502, ErrorResponse(error=ErrorDetail(
            message=str(exc), type="upstream_error", code="upstream_timeout" if timeout else "upstream_error"))
    if isinstance(exc, UserError):
        return 400, ErrorResponse(error=ErrorDetail(message=str(exc), code="invalid_request"))
    log.error("internal error on %s", path, exc_info=exc)
    return 500, ErrorResponse(error=ErrorDetail(message="internal server error", type="server_error",
                                                code="internal_error"))


def install_error_handlers(app: Any) -> None:
    """Map exceptions to OpenAI-style JSON errors (:func:`error_for`) so handlers can simply raise."""
    from starlette.responses import JSONResponse

    async def handle(request: Any, exc: Exception) -> Any:
        status, body = error_for(exc, request.url.path)
        return JSONResponse(body.model_dump(), status_code=status)

    for cls in (WireError, ConfigError, UserError, BackendError, Exception):
        app.add_exception_handler(cls, handle)
