"""``ttscale strategies``: every registered strategy with its kind, parameters and defaults."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("strategies", help=help_text, description=(
        "List the registered strategies: name, kind (vote, select, adaptive, aggregate, "
        "sequential), parameters with defaults, and what each does. Write a strategy as "
        "NAME:key=value,... in --strategy options."))
    p.add_argument("names", nargs="*", help="only these strategies")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per line: {"name", "kind", "params", "doc"}')
    return p


def describe_all(names: list[str] | None = None) -> list[dict[str, Any]]:
    """``Strategy.describe()`` of each registered strategy (unknown names raise, listing all)."""
    from ..registry import strategies
    return [strategies.get(n).describe() for n in (names or strategies.names())]


def main(args: argparse.Namespace) -> int:
    rows = describe_all(args.names)
    if args.json:
        for r in rows:
            print(json.dumps(r, default=str))
        return 0
    from .common import print_table
    print_table("strategies", ["name", "kind", "parameters (defaults)", "what it does"],
                [[r["name"], r["kind"],
                  ", ".join(f"{k}={v['default']}" for k, v in r["params"].items()) or "-", r["doc"]]
                 for r in rows])
    return 0
