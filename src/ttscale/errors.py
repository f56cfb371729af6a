"""The one exception tree of ttscale.

    TTScaleError
    ├── UserError            -- the user can fix it; the CLI prints the message without a traceback
    │   ├── ConfigError      -- a parameter is invalid (names the parameter)
    │   ├── UnknownNameError -- an unknown backend/task/strategy/verifier name (lists what exists)
    │   ├── DataError        -- a dataset/bank row is malformed (names file, row and field)
    │   └── StoreError       -- the sample store is unreadable, corrupt or not writable
    ├── BackendError         -- a model backend failed after its retries (names upstream and status)
    │   └── MissingDependencyError -- an optional dependency is not installed (says what to install)
    └── VerifierError        -- a verifier could not run (sandbox missing, worker died)

Foreign exceptions (httpx, sqlite3, torch) are translated at the boundary so callers
only ever catch these.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "TTScaleError",
    "UserError",
    "ConfigError",
    "UnknownNameError",
    "DataError",
    "StoreError",
    "BackendError",
    "MissingDependencyError",
    "VerifierError",
]


class TTScaleError(Exception):
    """Base class of every error ttscale raises on purpose."""

    def __reduce__(self) -> tuple[object, ...]:
        # subclasses take keyword-shaped constructor arguments that differ from ``args`` (the
        # formatted message), so the default pickling would call them wrongly: rebuild from the
        # message and attributes instead, so errors cross process pools and Ray workers intact
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[TTScaleError], args: tuple[object, ...], state: dict[str, object]) -> TTScaleError:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


class UserError(TTScaleError):
    """An error the user can fix by changing input; printed without traceback."""


class ConfigError(UserError, ValueError):
    """An invalid parameter. ``field`` names it so messages and HTTP 400s can point at it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class UnknownNameError(UserError, KeyError):
    """An unknown registered name; the message lists every allowed name."""

    def __init__(self, kind: str, name: str, allowed: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.allowed = sorted(allowed)
        super().__init__(f"unknown {kind} {name!r}; choose one of: {', '.join(self.allowed) or '(none)'}")

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class DataError(UserError):
    """A malformed input row. Carries where it came from so users can fix the file."""

    def __init__(self, message: str, *, source: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.source, self.row, self.field = source, row, field
        where = ", ".join(
            p for p in (source, f"row {row}" if row is not None else None,
                        f"field {field!r}" if field else None) if p
        )
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(UserError):
    """The sample store cannot be opened, read or written."""


class BackendError(TTScaleError):
    """A backend call failed for good. Never includes API keys."""

    def __init__(self, message: str, *, upstream: str | None = None, status: int | None = None) -> None:
        self.upstream, self.status = upstream, status
        super().__init__(message)


class MissingDependencyError(BackendError, UserError, ImportError):
    """An optional extra is missing; the message says which ``pip install`` fixes it."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs an optional dependency: pip install 'ttscale[{extra}]'")


class VerifierError(TTScaleError):
    """A verifier could not produce a verdict for reasons outside the model output."""
