"""Answer extraction and verifiers."""

from ..registry import verifiers  # noqa: F401  (verifiers register here)
