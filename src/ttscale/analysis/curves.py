"""Accuracy-vs-compute curves: every strategy at every budget, from one bank.

:func:`compute_curves` evaluates each strategy spec at each budget over seeded orderings of
the bank and returns one :class:`Point` per (strategy, budget): accuracy with its standard
errors and the mean compute in every unit of :data:`ttscale.analysis.cost.AXES`.

How a budget maps to a strategy: for strategies with a sample count ``n`` (vote and select
kinds: ``sc``, ``weighted``, ``bon``, ``rpc``, ``borda``, ...) the budget *is* n; for adaptive
strategies it is their cap ``max_samples``; strategies with neither (``greedy``, ``single``)
give one point at their own sample count.

Which evaluator: strategies with an exact closed form (``sc``, ``single``, ``bon`` with one
per-sample scorer) are computed exactly (``method="exact"``, ``accuracy_se`` 0); all others
are replayed with their own code over the orderings (``method="replay"``, ``accuracy_se``
the Monte-Carlo standard error across orderings). ``problem_se`` is the standard error
across problems — the uncertainty from having a finite problem set, drawn as the band in
plots. When a store is given, every replayed decision is stored under the point's
``label`` (``sweep/<strategy label>@<budget>``), so each number traces to its decisions;
closed-form points are then also replayed for the record (``replay_accuracy``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..backends.replay import ReplaySource
from ..config import Budget
from ..store import Store
from ..strategies.base import Strategy
from ..types import Verdict
from .cost import CostModel, TokenCounts
from .estimators import brier, ece, mean_se
from .fast import FastResult, OrderMatrix, fast_evaluate, supports_fast
from .simulate import (
    BankData,
    ProblemContext,
    ProblemStats,
    budget_param,
    closed_form_curve,
    has_closed_form,
    orderings,
    replay_one,
    strategy_at,
)

__all__ = ["Point", "compute_curves", "point_label", "DEFAULT_STRATEGIES", "CONTRACT_KEYS", "SWEEP_FILE",
           "write_sweep", "read_sweep"]

#: what ``ttscale sweep`` evaluates when no ``--strategy`` is given
DEFAULT_STRATEGIES = ["sc", "bon:scorer=logprob", "weighted:weight=logprob", "beta", "esc", "bayes"]

#: the keys of the ``--json`` contract (design.md), in order
CONTRACT_KEYS = ("strategy", "params", "budget", "accuracy", "accuracy_se", "mean_samples",
                 "mean_tokens", "mean_cost", "orderings", "problems")


@dataclass
class Point:
    """One strategy at one budget."""

    strategy: str
    params: dict[str, Any]
    budget: int
    label: str
    accuracy: float
    accuracy_se: float
    problem_se: float
    means: dict[str, float]
    orderings: int
    problems: int
    method: str  # "exact" | "replay"
    spec: str = ""
    replay_accuracy: float | None = None
    ece: float | None = None
    brier: float | None = None
    stored_orderings: int = 0
    per_problem: dict[str, float] = field(default_factory=dict)

    def x(self, axis: str) -> float:
        return self.means[axis]

    def contract(self) -> dict[str, Any]:
        """The ``ttscale sweep --json`` object (design.md's machine-readable contract)."""
        return {"strategy": self.strategy, "params": self.params, "budget": self.budget,
                "accuracy": self.accuracy, "accuracy_se": self.accuracy_se,
                "mean_samples": self.means["samples"], "mean_tokens": self.means["tokens"],
                "mean_cost": self.means["cost"], "orderings": self.orderings, "problems": self.problems}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Point:
        return cls(**data)


def point_label(strategy: Strategy, budget: int) -> str:
    """The store label of a point's decisions: strategy, its parameters and the budget."""
    return f"sweep/{strategy.label}@{budget}"


#: (problems, orderings) replayed with the strategy's own code to confirm a vectorised rule
SPOT_CHECK = (20, 1)


def _fast_agrees(fast: FastResult, plan: Sequence[tuple[Strategy, int]], ctxs: Sequence[ProblemContext],
                 sources: Sequence[ReplaySource], n_orderings: int, spot: tuple[int, int] | None) -> bool:
    """Replay (problem, ordering) pairs with the strategy's own code and compare decisions
    (correctness, samples used, generated tokens) with the vectorised rule's."""
    n_problems = len(ctxs)
    if spot is not None:
        n_problems, n_orderings = min(spot[0], n_problems), min(spot[1], len(sources))
    n_ord_total = len(sources)
    for bi, (strat, budget) in enumerate(plan):
        limit = Budget(max_samples=budget)
        for o in range(n_orderings):
            for p in range(n_problems):
                out = replay_one(ctxs[p], strat, sources[o], limit, o)
                r = p * n_ord_total + o
                if bool(out.correct) != bool(fast.correct[bi, r]) or out.samples_used != int(fast.samples[bi, r]):
                    return False
    return True


def _mean_tokens(items: Sequence[TokenCounts]) -> TokenCounts:
    total = TokenCounts()
    for t in items:
        total = total + t
    return total.scaled(1.0 / len(items)) if items else total


def compute_curves(data: BankData, specs: Sequence[tuple[str, dict[str, Any]]], budgets: Sequence[int], *,
                   orderings_count: int = 50, seed: int = 0, cost_model: CostModel | None = None,
                   store: Store | None = None, store_orderings: int | None = None,
                   progress: Callable[[Point], None] | None = None) -> list[Point]:
    """Evaluate every (strategy spec, budget); see the module docstring. ``specs`` are
    ``(name, params)`` pairs without the budget parameter. Budgets above the bank's
    largest per-problem sample count are dropped (they would repeat the largest one)."""
    if not data.problems:
        from ..errors import StoreError
        raise StoreError(f"{data.source or 'the bank'} has no graded problems with samples")
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        from ..errors import ConfigError
        raise ConfigError("budgets", f"need positive integers (got {list(budgets)})")
    cap = data.max_samples
    usable = [b for b in budgets if b <= cap] or [cap]
    cost_model = cost_model or CostModel.for_model(data.model)
    sources = orderings(data, orderings_count, seed)
    shared_verifiers: dict[str, Any] = {}
    ctxs = [ProblemContext(data.task, p, data.bank, shared_verifiers) for p in data.problems]
    verdict_map: dict[tuple[str, str, int, str], Verdict] = {
        (v.problem_id, v.stream, v.sample_index, v.verifier): v for v in data.verdicts}
    stats: list[ProblemStats] | None = None
    matrix: OrderMatrix | None = None
    n_store = orderings_count if store_orderings is None else max(0, min(store_orderings, orderings_count))
    points: list[Point] = []
    for name, params in specs:
        from ..registry import strategies as registry
        key = budget_param(registry.get(name))
        plan = [strategy_at(name, params, b) for b in (usable if key is not None else [None])]
        for strat, _ in plan:
            check = getattr(strat, "check_task", None)
            if check is not None:
                check(data.task)
        spec = name + (":" + ",".join(f"{k}={v}" for k, v in params.items()) if params else "")
        exact: list[list[tuple[float, TokenCounts]]] | None = None
        if has_closed_form(plan[0][0]):
            if stats is None:
                stats = [ProblemStats.build(c) for c in ctxs]
            ks = [b for _, b in plan]
            exact = []
            for st in stats:
                curve = closed_form_curve(plan[0][0], st, ks, verdict_map)
                if curve is None:
                    exact = None
                    break
                exact.append(curve)
        fast = None
        if exact is None and supports_fast(plan[0][0]):
            if stats is None:
                stats = [ProblemStats.build(c) for c in ctxs]
            if matrix is None:
                matrix = OrderMatrix.build(stats, sources)
            fast = fast_evaluate(plan, stats, matrix)
            full = store is not None and n_store > 0  # the stored orderings are all checked
            if fast is not None and not _fast_agrees(fast, plan, ctxs, sources, n_store if full else 1,
                                                     spot=None if full else SPOT_CHECK):
                fast = None  # the vectorised rule disagrees with the strategy's code: replay it
        for bi, (strat, budget) in enumerate(plan):
            label = point_label(strat, budget)
            if exact is not None or fast is not None:
                n_replay = n_store if store is not None else 0
            else:
                n_replay = orderings_count
            limit = Budget(max_samples=budget)
            per_order: list[float] = []
            per_problem_sum = [0.0] * len(ctxs)
            costs: list[TokenCounts] = []
            conf: list[float] = []
            corr: list[bool] = []
            params_json = strat.param_dict
            for o in range(n_replay):
                src = sources[o]
                outs = [replay_one(ctx, strat, src, limit, o, store=store) for ctx in ctxs]
                hits = [bool(x.correct) for x in outs]
                per_order.append(sum(hits) / len(hits))
                for i, h in enumerate(hits):
                    per_problem_sum[i] += h
                costs.extend(x.cost for x in outs)
                conf.extend(min(1.0, max(0.0, float(x.confidence))) for x in outs)
                corr.extend(hits)
                if store is not None and o < n_store:
                    store.put_decisions(label, [x.decision(strat, params_json) for x in outs])
            replay_acc = (sum(per_order) / len(per_order)) if per_order else None
            if exact is not None:
                per_problem = [curve[bi][0] for curve in exact]
                mean_tc = _mean_tokens([curve[bi][1] for curve in exact])
                acc, acc_se = sum(per_problem) / len(per_problem), 0.0
                method = "exact"
            elif fast is not None:
                grid = fast.correct[bi].reshape(len(ctxs), orderings_count).astype(float)
                per_problem = grid.mean(axis=1).tolist()
                acc, acc_se = mean_se(grid.mean(axis=0).tolist())
                mean_tc = fast.cost[bi]
                conf = np.clip(fast.confidence[bi], 0.0, 1.0).tolist()
                corr = fast.correct[bi].tolist()
                method = "fast"
            else:
                per_problem = [x / n_replay for x in per_problem_sum]
                acc, acc_se = mean_se(per_order)
                mean_tc = _mean_tokens(costs)
                method = "replay"
            pt = Point(strategy=strat.name, params=params_json, budget=budget, label=label,
                       accuracy=acc, accuracy_se=acc_se, problem_se=mean_se(per_problem)[1],
                       means=cost_model.axes(mean_tc), orderings=orderings_count, problems=len(ctxs),
                       method=method, spec=spec, replay_accuracy=replay_acc,
                       ece=ece(conf, corr) if conf else None, brier=brier(conf, corr) if conf else None,
                       stored_orderings=n_replay if store is not None else 0,
                       per_problem={c.problem.id: a for c, a in zip(ctxs, per_problem, strict=True)})
            points.append(pt)
            if progress is not None:
                progress(pt)
    return points


SWEEP_FILE = "sweep.json"


def write_sweep(run_dir: Any, points: Sequence[Point], settings: dict[str, Any]) -> Any:
    """Save a sweep's points and the settings that produced them as ``sweep.json``."""
    import json
    from pathlib import Path
    path = Path(run_dir) / SWEEP_FILE
    path.write_text(json.dumps({"version": 1, "settings": settings, "points": [p.to_json() for p in points]},
                               indent=1, default=str))
    return path


def read_sweep(run_dir: Any) -> tuple[list[Point], dict[str, Any]] | None:
    """The saved sweep of a run directory, or None when it has none."""
    import json
    from pathlib import Path
    path = Path(run_dir) / SWEEP_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return [Point.from_json(p) for p in data["points"]], data.get("settings", {})
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        from ..errors import StoreError
        raise StoreError(f"{path} is unreadable ({exc}); rerun ttscale sweep") from None
