"""Helpers shared by CLI subcommands: key=value options and rich tables."""

from __future__ import annotations

import json
import sys
from typing import Any

from ..errors import ConfigError

__all__ = ["parse_kv", "print_table", "stdout_console"]


def parse_kv(items: list[str] | None, flag: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` → {"a": 1, "b": "x"} (values parsed as JSON when they parse)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(flag, f"expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def stdout_console() -> Any:
    from rich.console import Console
    return Console(file=sys.stdout, soft_wrap=True)


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for i, c in enumerate(columns):
        table.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in r])
    stdout_console().print(table)
