"""A rich progress bar showing problems done, samples/s and tokens/s."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["run_progress"]


@contextmanager
def run_progress(*, enabled: bool, total: int, stats: Any, console: Any = None,
                 description: str = "solving") -> Iterator[Callable[[Any], None]]:
    """Yield an ``advance(decision)`` callback; renders nothing when disabled."""
    if not enabled:
        yield lambda _d: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    def rates() -> str:
        dt = max(time.monotonic() - stats.started, 1e-9)
        return f"{stats.samples / dt:6.1f} samples/s {stats.tokens / dt:7.1f} tok/s"

    class RateColumn(TextColumn):
        def render(self, task: Any) -> Any:  # noqa: D102
            from rich.text import Text
            return Text(rates(), style="cyan")

    console = console or Console(file=sys.stderr)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  RateColumn(""), TimeElapsedColumn(), console=console, transient=False) as bar:
        tid = bar.add_task(description, total=total)
        yield lambda _d: bar.advance(tid)
