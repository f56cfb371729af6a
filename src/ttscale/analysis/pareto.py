"""Which strategy to use at a given compute budget.

- :func:`frontier`: the Pareto frontier of accuracy against compute (no other point is at
  least as accurate for less compute);
- :func:`compute_optimal`: the most accurate point within a compute budget;
- :func:`optimal_table`: the frontier read as a decision table — from each frontier point's
  compute up to the next one's, that point's strategy and parameters are compute-optimal;
- :func:`genrm_grid`: GenRM's solutions × verifications grid (S solutions, V verification
  chains each, pick the best mean verdict) with compute C ∝ S·(1 + λV), λ = verification
  tokens / solution tokens, and the compute-optimal (S, V) for each compute level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .cost import AXES
from .curves import Point
from .estimators import bon_at_k_curve, maj_at_k_curve, mean_se

__all__ = ["frontier", "compute_optimal", "optimal_table", "GridCell", "GenRMGrid", "genrm_grid",
           "genrm_inputs"]


def _check_axis(axis: str) -> None:
    if axis not in AXES:
        raise ConfigError("x_axis", f"unknown axis {axis!r}; choose one of {', '.join(AXES)}")


def frontier(points: Sequence[Point], axis: str = "tokens") -> list[Point]:
    """Points not dominated in (less compute, more accuracy), by increasing compute."""
    _check_axis(axis)
    usable = [p for p in points if not math.isnan(p.x(axis))]
    usable.sort(key=lambda p: (p.x(axis), -p.accuracy))
    out: list[Point] = []
    best = -math.inf
    for p in usable:
        if p.accuracy > best:
            out.append(p)
            best = p.accuracy
    return out


def compute_optimal(points: Sequence[Point], budget: float, axis: str = "tokens") -> Point | None:
    """The most accurate point whose mean compute is within ``budget`` (the cheaper one
    on ties); None when nothing fits."""
    _check_axis(axis)
    fits = [p for p in points if not math.isnan(p.x(axis)) and p.x(axis) <= budget]
    if not fits:
        return None
    return max(fits, key=lambda p: (p.accuracy, -p.x(axis)))


def optimal_table(points: Sequence[Point], axis: str = "tokens") -> list[dict[str, Any]]:
    """Rows ``{from, to, label, strategy, params, budget, accuracy, accuracy_se, x}``: for
    compute budgets in [from, to) the row's point is compute-optimal."""
    front = frontier(points, axis)
    rows = []
    for i, p in enumerate(front):
        rows.append({"from": p.x(axis), "to": front[i + 1].x(axis) if i + 1 < len(front) else math.inf,
                     "label": p.label, "strategy": p.strategy, "params": p.params, "budget": p.budget,
                     "accuracy": p.accuracy, "accuracy_se": p.accuracy_se, "problem_se": p.problem_se,
                     "x": p.x(axis)})
    return rows


@dataclass(frozen=True)
class GridCell:
    """One (solutions S, verifications V) cell; V = 0 is self-consistency over S (no verifier)."""

    solutions: int
    verifications: int
    accuracy: float
    accuracy_se: float
    compute: float  # S·(1 + λV), in solution-equivalents


@dataclass
class GenRMGrid:
    cells: list[GridCell]
    lam: float
    optimal: list[GridCell]  # the compute-optimal cell at each compute level (frontier)

    def to_json(self) -> dict[str, Any]:
        return {"lambda": self.lam, "cells": [asdict(c) for c in self.cells],
                "optimal": [asdict(c) for c in self.optimal]}


def genrm_grid(correct: Sequence[Sequence[bool]], chains: Sequence[Sequence[Sequence[float]]],
               solutions: Sequence[int], verifications: Sequence[int], *, lam: float,
               answers: Sequence[Sequence[str | None]] | None = None, draws: int = 64,
               seed: int = 0) -> GenRMGrid:
    """Accuracy of GenRM best-of-S with V verification chains per solution, per problem
    averaged: ``correct[p][i]`` says whether solution i of problem p is right,
    ``chains[p][i]`` holds that solution's verdicts (≥ max V of them, in [0, 1]).

    For each cell, a seeded Monte-Carlo draw picks V of each solution's chains (score = their
    mean); given the scores, best-of-S over random S-subsets is exact (ties averaged,
    :func:`~ttscale.analysis.estimators.bon_at_k_curve`); the mean over ``draws`` and its
    standard error are reported. V = 0 is majority vote over S (exact maj@S) when
    ``answers`` are given, else a random pick (pass@1)."""
    if lam < 0:
        raise ConfigError("lam", f"must be >= 0 (got {lam})")
    if len(correct) != len(chains) or not correct:
        raise ConfigError("chains", "need one list of chains per problem, for at least one problem")
    vmax = max(verifications)
    for p, (cs, ch) in enumerate(zip(correct, chains, strict=True)):
        if len(cs) != len(ch):
            raise ConfigError(f"chains[{p}]", f"{len(ch)} chain lists for {len(cs)} solutions")
        if vmax and any(len(c) < vmax for c in ch):
            raise ConfigError(f"chains[{p}]", f"every solution needs at least {vmax} chains")
    rng = np.random.default_rng(seed)
    cells: list[GridCell] = []
    for v in sorted(set(verifications)):
        for s in sorted(set(solutions)):
            per_draw: list[float] = []
            reps = 1 if v == 0 else draws
            for _ in range(reps):
                accs = []
                for p, cs in enumerate(correct):
                    n = len(cs)
                    k = min(s, n)
                    if v == 0:
                        if answers is not None:
                            ans = answers[p]
                            keys = list(dict.fromkeys(a for a in ans if a is not None))
                            counts = [sum(1 for a in ans if a == key) for key in keys]
                            ok = [any(c for a, c in zip(ans, cs, strict=True) if a == key) for key in keys]
                            none = sum(1 for a in ans if a is None)
                            accs.append(maj_at_k_curve(counts, ok, [k], none)[0] if any(ok) else 0.0)
                        else:
                            accs.append(sum(cs) / n)
                        continue
                    scores = [float(np.mean(rng.choice(np.asarray(ch, dtype=float), size=v, replace=False)))
                              for ch in chains[p]]
                    accs.append(bon_at_k_curve(scores, [bool(c) for c in cs], [k])[0])
                per_draw.append(sum(accs) / len(accs))
            m, se = mean_se(per_draw)
            cells.append(GridCell(solutions=s, verifications=v, accuracy=m, accuracy_se=se,
                                  compute=s * (1 + lam * v)))
    ordered = sorted(cells, key=lambda c: (c.compute, -c.accuracy))
    optimal: list[GridCell] = []
    best = -math.inf
    for c in ordered:
        if c.accuracy > best:
            optimal.append(c)
            best = c.accuracy
    return GenRMGrid(cells=cells, lam=lam, optimal=optimal)


def genrm_inputs(data: Any, verifier: str = "genrm") -> tuple[list[list[bool]], list[list[list[float]]],
                                                              list[list[str | None]], float] | None:
    """(correct, chains, answers, λ) from a bank's stored GenRM verdicts (their ``raw``
    JSON lists per-chain verdicts), or None when the bank has none. λ = verification
    completion tokens per chain / solution completion tokens."""
    import json

    from ..backends.replay import pick_stream
    by_key = {(v.problem_id, v.stream, v.sample_index): v for v in data.verdicts if v.verifier == verifier}
    if not by_key:
        return None
    correct, chains, answers = [], [], []
    ver_tokens = sol_tokens = 0.0
    n_chain = n_sol = 0
    for prob in data.problems:
        samples = sorted(pick_stream(data.bank[prob.id], "main"), key=lambda s: s.index)
        rows = []
        for s in samples:
            v = by_key.get((prob.id, s.stream, s.index))
            if v is None:
                continue
            try:
                got = [float(x) for x in json.loads(v.raw or "{}").get("chains", []) if x is not None]
            except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
                got = []
            if not got:
                continue
            rows.append((s, got))
            ver_tokens += v.usage.completion_tokens
            n_chain += len(got)
            sol_tokens += s.usage.completion_tokens
            n_sol += 1
        if not rows:
            continue
        v_min = min(len(g) for _, g in rows)
        correct.append([bool(data.task.is_correct(s.answer, prob)) for s, _ in rows])
        chains.append([g[:v_min] for _, g in rows])
        answers.append([s.answer for s, _ in rows])
    if not correct or not n_sol or not n_chain:
        return None
    lam = (ver_tokens / n_chain) / max(sol_tokens / n_sol, 1e-9)
    return correct, chains, answers, lam
