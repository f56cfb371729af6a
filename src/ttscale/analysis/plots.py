"""PNG figures (matplotlib, Agg backend: no display, no network): accuracy against compute
with standard-error bands and the Pareto frontier, and the GenRM solutions × verifications
grid. Each function returns PNG bytes; the report embeds them and writes them to files."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from ..errors import MissingDependencyError
from .cost import AXES
from .curves import Point
from .pareto import GenRMGrid, frontier

__all__ = ["accuracy_plot", "genrm_plot"]


def _pyplot():  # type: ignore[no-untyped-def]
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError("plots and reports", "report") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _png(fig) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def accuracy_plot(points: Sequence[Point], axis: str = "tokens", title: str = "") -> bytes:
    """One line per strategy spec (markers at its budgets), a ±1 s.e. band (across
    problems, plus the Monte-Carlo s.e. of replayed points), and the Pareto frontier."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    specs = list(dict.fromkeys(p.spec or p.strategy for p in points))
    xs_all = []
    for spec in specs:
        pts = sorted((p for p in points if (p.spec or p.strategy) == spec and not math.isnan(p.x(axis))),
                     key=lambda p: p.x(axis))
        if not pts:
            continue
        x = [p.x(axis) for p in pts]
        y = [p.accuracy for p in pts]
        se = [math.hypot(p.problem_se, p.accuracy_se) for p in pts]
        xs_all += x
        line, = ax.plot(x, y, marker="o", ms=4, label=spec)
        ax.fill_between(x, [a - s for a, s in zip(y, se, strict=True)], [a + s for a, s in zip(y, se, strict=True)],
                        color=line.get_color(), alpha=0.15, linewidth=0)
    front = frontier(points, axis)
    if front:
        ax.step([p.x(axis) for p in front], [p.accuracy for p in front], where="post", color="black",
                linestyle="--", linewidth=1, label="Pareto frontier")
    positive = [x for x in xs_all if x > 0]
    if positive and max(positive) / min(positive) > 20:
        ax.set_xscale("log")
    title_x, unit = AXES[axis]
    ax.set_xlabel(f"{title_x} ({unit})")
    ax.set_ylabel("accuracy")
    ax.set_title(title or f"accuracy vs {title_x}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def genrm_plot(grid: GenRMGrid) -> bytes:
    """Heatmap of accuracy over solutions (x) × verifications (y)."""
    plt = _pyplot()
    ss = sorted({c.solutions for c in grid.cells})
    vs = sorted({c.verifications for c in grid.cells})
    acc = {(c.solutions, c.verifications): c.accuracy for c in grid.cells}
    fig, ax = plt.subplots(figsize=(6, 4))
    data = [[acc.get((s, v), float("nan")) for s in ss] for v in vs]
    im = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(ss)), [str(s) for s in ss])
    ax.set_yticks(range(len(vs)), [str(v) for v in vs])
    ax.set_xlabel("solutions S")
    ax.set_ylabel("verifications V per solution")
    for i, row in enumerate(data):
        for j, a in enumerate(row):
            ax.text(j, i, f"{a:.2f}", ha="center", va="center", fontsize=7, color="white")
    fig.colorbar(im, ax=ax, label="accuracy")
    ax.set_title(f"GenRM grid (λ = {grid.lam:.2f}; compute ∝ S·(1+λV))")
    return _png(fig)
