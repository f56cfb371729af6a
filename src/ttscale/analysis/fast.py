"""Vectorised replay of strategies whose rule is known, for banks too large to replay one
decision at a time.

Replaying a strategy's own code (:func:`ttscale.analysis.simulate.replay_one`) costs a few
hundred microseconds per decision because the rules recount the votes after every draw;
1,000 problems × 50 orderings × 7 budgets is millions of such decisions. For the stopping
rules whose state is the vote tally (``beta``, ``dirichlet``, ``bayes``: batch 1; ``esc``)
and for weighted voting with a per-sample weight, this module advances *all* problems and
orderings together, one draw position at a time, with numpy, calling the strategies' own
confidence functions (``beta_confidence``, ``mode_probability``, ...) once per distinct tally.

These rules do not look at their cap before reaching it, so one pass at the largest budget
gives every smaller budget: the stopping time at cap B is min(τ, B, bank size).

Nothing here is trusted blindly: :func:`ttscale.analysis.curves.compute_curves` replays a
sample of (problem, ordering) pairs with the strategy's own code and falls back to full
replay on any disagreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..backends.replay import ReplaySource
from ..strategies.base import Strategy
from .cost import TokenCounts
from .simulate import ProblemStats

__all__ = ["OrderMatrix", "FastResult", "fast_evaluate", "supports_fast"]


@dataclass
class OrderMatrix:
    """Every problem's main-stream samples in every ordering, as arrays over
    rows = problem × ordering and columns = draw position (padding: class −2)."""

    cls: np.ndarray  # (R, N) int16 class id, −1 no answer, −2 past the bank
    pos: np.ndarray  # (R, N) int32 position of the sample in ProblemStats.samples (index order)
    problem: np.ndarray  # (R,) problem number
    n: np.ndarray  # (R,) samples available
    comp: np.ndarray  # (R, N) completion tokens
    lat: np.ndarray  # (R, N) latency
    class_correct: np.ndarray  # (P, C) bool
    prompt_len: np.ndarray  # (P,)
    orderings: int
    problems: int

    @classmethod
    def build(cls, stats: Sequence[ProblemStats], sources: Sequence[ReplaySource]) -> OrderMatrix:
        P, n_ord = len(stats), len(sources)
        N = max(st.n for st in stats)
        C = max((len(st.counts) for st in stats), default=0) or 1
        R = P * n_ord
        cls_m = np.full((R, N), -2, dtype=np.int16)
        pos_m = np.zeros((R, N), dtype=np.int32)
        comp = np.zeros((R, N))
        lat = np.zeros((R, N))
        n = np.zeros(R, dtype=np.int32)
        correct = np.zeros((P, C), dtype=bool)
        for p, st in enumerate(stats):
            correct[p, : len(st.class_correct)] = st.class_correct
            where = {s.index: i for i, s in enumerate(st.samples)}
            classes = np.asarray(st.classes, dtype=np.int16)
            comps = np.asarray(st.completion, dtype=float)
            lats = np.asarray([s.latency for s in st.samples], dtype=float)
            pid = st.samples[0].problem_id if st.samples else ""
            for o, src in enumerate(sources):
                r = p * n_ord + o
                order = np.fromiter((where[s.index] for s in src.ordered(pid, "main")), dtype=np.int32,
                                    count=st.n)
                k = len(order)
                n[r] = k
                pos_m[r, :k] = order
                cls_m[r, :k] = classes[order]
                comp[r, :k] = comps[order]
                lat[r, :k] = lats[order]
        return cls(cls=cls_m, pos=pos_m, problem=np.repeat(np.arange(P), n_ord), n=n, comp=comp, lat=lat,
                   class_correct=correct, prompt_len=np.asarray([st.prompt_len for st in stats], dtype=float),
                   orderings=n_ord, problems=P)


@dataclass
class FastResult:
    """Per budget: correctness, samples used, compute and confidence of every row."""

    correct: np.ndarray  # (B, R) bool
    samples: np.ndarray  # (B, R)
    cost: list[TokenCounts]  # per budget, mean over rows
    confidence: np.ndarray  # (B, R)
    answer_class: np.ndarray  # (B, R) winner class id (−1: no answer)


def _rule(strategy: Strategy) -> str | None:
    from ..strategies.adaptive import BayesStop, BetaStop, DirichletStop, EarlyStopSC
    from ..strategies.vote import Weighted
    t = type(strategy)
    p = strategy.params
    if t in (BetaStop, DirichletStop, BayesStop) and p.batch == 1:  # type: ignore[attr-defined]
        return t.name
    if t is EarlyStopSC:
        return "esc"
    if t is Weighted:
        from ..strategies.signals import BUILTIN_SIGNALS
        return "weighted" if p.weight in BUILTIN_SIGNALS else None  # type: ignore[attr-defined]
    return None


def supports_fast(strategy: Strategy) -> bool:
    return _rule(strategy) is not None


@lru_cache(maxsize=8)
def _beta_table(size: int) -> np.ndarray:
    from ..strategies.adaptive import beta_confidence
    return np.asarray([[beta_confidence(a, b) for b in range(size + 1)] for a in range(size + 1)])


def _weights(strategy: Strategy, stats: Sequence[ProblemStats], m: OrderMatrix) -> np.ndarray | None:
    """Per-row, per-position vote weights for ``weighted`` (None: some sample lacks the
    signal, whose fill then depends on the subset — not vectorised)."""
    from ..strategies.base import View
    from ..strategies.signals import raw_signal
    name = strategy.params.weight  # type: ignore[attr-defined]
    view = View(samples=[])
    per_problem = []
    for st in stats:
        vals = [raw_signal(view, s, name) for s in st.samples]
        if any(v is None for v in vals):
            return None
        per_problem.append(np.asarray([float(v) for v in vals]))  # type: ignore[arg-type]
    w = np.zeros(m.cls.shape)
    n_ord = m.orderings
    for p, vals in enumerate(per_problem):
        rows = slice(p * n_ord, (p + 1) * n_ord)
        k = len(vals)
        w[rows, :k] = vals[m.pos[rows, :k]]
    return w


def fast_evaluate(strategy_budgets: Sequence[tuple[Strategy, int]], stats: Sequence[ProblemStats],
                  m: OrderMatrix) -> FastResult | None:
    """Evaluate one strategy (its instances at several budgets, same other params) on every
    row of ``m``; None when the rule or the bank is not supported."""
    first = strategy_budgets[0][0]
    rule = _rule(first)
    if rule is None:
        return None
    budgets = [b for _, b in strategy_budgets]
    R, N = m.cls.shape
    C = m.class_correct.shape[1]
    T = min(max(budgets), N)
    weights = None
    if rule == "weighted":
        weights = _weights(first, stats, m)
        if weights is None:
            return None
    window = first.params.window if rule == "esc" else 1  # type: ignore[attr-defined]
    nb = len(budgets)
    rows = np.arange(R)
    counts = np.zeros((R, C), dtype=np.int32)
    totals = np.zeros((R, C))
    firstpos = np.full((R, C), N + 1, dtype=np.int32)
    cumtok = np.zeros(R)
    done_wall = np.zeros(R)
    cur_max = np.zeros(R)
    stopped = np.zeros(R, dtype=bool)
    rec = np.zeros((nb, R), dtype=bool)
    out_correct = np.zeros((nb, R), dtype=bool)
    out_samples = np.zeros((nb, R))
    out_tok = np.zeros((nb, R))
    out_wall = np.zeros((nb, R))
    out_rounds = np.zeros((nb, R))
    out_conf = np.zeros((nb, R))
    out_cls = np.full((nb, R), -1, dtype=np.int32)
    beta = _beta_table(N + 1)
    thr = getattr(first.params, "threshold", None)
    cache: dict[tuple[float, ...], float] = {}

    def tally_conf(sel: np.ndarray) -> np.ndarray:
        """Each selected row's confidence in its leader (the rule's own function)."""
        from ..strategies.adaptive import dirichlet_confidence, mode_probability
        srt = -np.sort(-counts[sel], axis=1)
        a, b = srt[:, 0], (srt[:, 1] if C > 1 else np.zeros(len(srt), dtype=np.int32))
        if rule == "beta":
            return beta[a, b]
        if rule == "esc" or rule == "weighted":
            tot = srt.sum(axis=1)
            return np.where(tot > 0, a / np.maximum(tot, 1), 0.0)
        # the rule's function once per distinct tally (few), not once per row (many)
        uniq, inverse = np.unique(srt, axis=0, return_inverse=True)
        vals = np.empty(len(uniq))
        for i, row in enumerate(uniq):
            key = tuple(float(x) for x in row if x > 0)
            if key not in cache:
                if not key:
                    cache[key] = 0.0
                elif rule == "bayes":
                    cache[key] = mode_probability(key)
                elif len(key) >= 3:
                    cache[key] = dirichlet_confidence(key[: first.params.top])  # type: ignore[attr-defined]
                else:
                    cache[key] = float(beta[int(key[0]), int(key[1]) if len(key) > 1 else 0])
            vals[i] = cache[key]
        return vals[inverse.reshape(-1)]

    def stop_now(sel: np.ndarray, t: int) -> np.ndarray:
        if rule == "weighted" or not len(sel):
            return np.zeros(len(sel), dtype=bool)
        answered = counts[sel].sum(axis=1) > 0
        if rule == "esc":
            if t % window or t < window:
                return np.zeros(len(sel), dtype=bool)
            win = m.cls[sel, t - window:t]
            return (win >= 0).all(axis=1) & (win == win[:, :1]).all(axis=1)
        conf = tally_conf(sel)
        if rule == "bayes":
            with np.errstate(divide="ignore"):
                nclass = (counts[sel] > 0).sum(axis=1)
                bf = np.where(conf < 1, nclass * conf / np.where(conf < 1, 1 - conf, 1.0), np.inf)
            return answered & (bf > thr)
        return answered & (conf >= thr)

    def record(sel: np.ndarray, b: int, t: int) -> None:
        sel = sel[~rec[b, sel]]
        if not len(sel):
            return
        rec[b, sel] = True
        vals = (totals if rule == "weighted" else counts)[sel].astype(float)
        voted = counts[sel] > 0
        key = np.where(voted, vals, -np.inf)
        best = key.max(axis=1, keepdims=True)
        # ties: the class seen first in draw order (vote()'s rule)
        tie_pos = np.where(voted & (key == best), firstpos[sel], N + 2)
        win = tie_pos.argmin(axis=1)
        any_vote = voted.any(axis=1)
        out_cls[b, sel] = np.where(any_vote, win, -1)
        out_correct[b, sel] = any_vote & m.class_correct[m.problem[sel], win]
        out_samples[b, sel] = t
        out_tok[b, sel] = cumtok[sel]
        out_wall[b, sel] = done_wall[sel] + cur_max[sel]
        out_rounds[b, sel] = 1 if rule == "weighted" else np.ceil(t / window)
        if rule == "weighted":
            tot = np.where(voted, vals, 0.0).sum(axis=1)
            conf = np.where(tot > 0, vals[np.arange(len(sel)), win] / np.where(tot > 0, tot, 1), 0.0)
        else:
            conf = tally_conf(sel)
        out_conf[b, sel] = np.where(any_vote, conf, 0.0)

    for t in range(1, T + 1):
        j = t - 1
        live = rows[(m.n > j) & ~stopped]
        c = m.cls[live, j].astype(np.int64)
        has = c >= 0
        lr, lc = live[has], c[has]
        counts[lr, lc] += 1
        firstpos[lr, lc] = np.minimum(firstpos[lr, lc], j)
        if weights is not None:
            totals[lr, lc] += weights[lr, j]
        cumtok[live] += m.comp[live, j]
        # a round is one batched call: its wall time is its slowest sample (weighted voting
        # draws everything in one round)
        cur_max[live] = np.maximum(cur_max[live], m.lat[live, j])
        if rule != "weighted" and t % window == 0:
            done_wall[live] += cur_max[live]
            cur_max[live] = 0.0
        halted = live[stop_now(live, t)]
        ends = live[m.n[live] == t]
        for b, B in enumerate(budgets):
            if B >= t and len(halted):
                record(halted, b, t)
            if B == t:
                record(live, b, t)
            if B >= t and len(ends):
                record(ends, b, t)
        stopped[halted] = True
    costs = []
    for b in range(nb):
        prompt = m.prompt_len[m.problem]
        samples = out_samples[b]
        fresh = prompt * out_rounds[b]
        costs.append(TokenCounts(samples=float(samples.mean()), prompt=float(fresh.mean()),
                                 cached=float((prompt * samples - fresh).mean()),
                                 completion=float(out_tok[b].mean()), wall_time=float(out_wall[b].mean())))
    return FastResult(correct=out_correct, samples=out_samples, cost=costs, confidence=out_conf,
                      answer_class=out_cls)
