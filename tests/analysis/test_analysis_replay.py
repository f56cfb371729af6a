"""The lean replay loop, the closed forms and the vectorised rules agree with the engine.

- replay_one gives exactly the Decision that Engine + ReplaySource gives, for every
  replayable strategy, several budgets and orderings;
- the closed forms equal the mean of replay_one over *all* orderings of a tiny bank;
- the vectorised rules make, row by row, the decisions of the strategies' own code.
"""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from ttscale.analysis.curves import compute_curves
from ttscale.analysis.fast import OrderMatrix, fast_evaluate
from ttscale.analysis.simulate import (
    BankData,
    ProblemContext,
    ProblemStats,
    closed_form_curve,
    orderings,
    replay_one,
    strategy_at,
)
from ttscale.analysis.synthetic import synthetic_bank
from ttscale.backends.replay import ReplaySource
from ttscale.config import Budget
from ttscale.engine import Engine
from ttscale.errors import ConfigError
from ttscale.store import Store
from ttscale.types import Usage, Verdict

SPECS = [("sc", {}), ("single", {}), ("weighted", {"weight": "logprob"}), ("bon", {"scorer": "logprob"}),
         ("bon", {"scorer": "oracle"}), ("beta", {}), ("esc", {"window": 3}), ("dirichlet", {}),
         ("bayes", {}), ("voi", {}), ("borda", {}), ("rpc", {}), ("beta", {"batch": 2})]


def with_verdicts(data: BankData) -> BankData:
    """Stored 'oracle' verdicts with a noisy score and some verifier cost."""
    rng = random.Random(3)
    verdicts = []
    for p in data.problems:
        for s in data.bank[p.id]["main"]:
            ok = s.answer == "a"
            verdicts.append(Verdict(problem_id=p.id, sample_index=s.index, stream="main", verifier="oracle",
                                    score=round(min(1.0, max(0.0, (0.7 if ok else 0.3) + rng.gauss(0, 0.2))), 2),
                                    usage=Usage(prompt_tokens=30, completion_tokens=3, wall_time=0.01)))
    data.verdicts = verdicts
    return data


@pytest.fixture(scope="module")
def bank() -> BankData:
    return with_verdicts(synthetic_bank(8, 12, seed=4))


@pytest.mark.parametrize("name, params", SPECS, ids=lambda x: str(x))
def test_replay_one_reproduces_the_engine_exactly(bank: BankData, name: str, params: dict) -> None:
    slow = name == "rpc"  # a Weibull-mixture fit per decision: one budget, one ordering
    for budget in (8,) if slow else (1, 3, 8):
        strat, b = strategy_at(name, params, budget)
        for ordering in (0,) if slow else (0, 1):
            src = ReplaySource(bank.bank, bank.verdicts, ordering=ordering, seed=7)
            engine = Engine(bank.task, ReplaySource(bank.bank, bank.verdicts, ordering=ordering, seed=7),
                            budget=Budget(max_samples=b))
            for p in bank.problems:
                want = asyncio.run(engine.solve(p, strat, ordering=ordering))
                got = replay_one(ProblemContext(bank.task, p, bank.bank), strat, src, Budget(max_samples=b), ordering)
                assert got.decision(strat) == want, (name, budget, ordering, p.id)


class ExplicitOrder:
    """A replay source serving one given permutation of each problem's samples."""

    replay = True

    def __init__(self, data: BankData, perm: tuple[int, ...]) -> None:
        self.data, self.perm = data, perm

    def ordered(self, problem_id: str, stream: str) -> list:
        samples = sorted(self.data.bank[problem_id].get(stream, []), key=lambda s: s.index)
        return [samples[i] for i in self.perm] if samples else []

    def stored_verdict(self, sample, verifier):  # type: ignore[no-untyped-def]
        return next((v for v in self.data.verdicts if (v.problem_id, v.stream, v.sample_index, v.verifier) ==
                     (sample.problem_id, sample.stream, sample.index, verifier)), None)


@pytest.mark.parametrize("name, params", [("sc", {}), ("single", {}), ("bon", {"scorer": "logprob"}),
                                          ("bon", {"scorer": "oracle"})], ids=str)
def test_closed_forms_equal_the_mean_over_every_ordering(name: str, params: dict) -> None:
    data = with_verdicts(synthetic_bank(6, 5, seed=11))
    # make ties: two samples per problem share the top score
    for p in data.problems:
        ss = data.bank[p.id]["main"]
        data.bank[p.id]["main"] = [s.model_copy(update={"logprob_mean": -0.1}) if s.index < 2 else s for s in ss]
    vmap = {(v.problem_id, v.stream, v.sample_index, v.verifier): v for v in data.verdicts}
    perms = list(itertools.permutations(range(5)))
    for budget in (1, 2, 3, 5):
        strat, b = strategy_at(name, params, budget)
        for p in data.problems:
            ctx = ProblemContext(data.task, p, data.bank)
            exact = closed_form_curve(strat, ProblemStats.build(ctx), [b], vmap)
            assert exact is not None
            outs = [replay_one(ctx, strat, ExplicitOrder(data, perm), Budget(max_samples=b)) for perm in perms]  # type: ignore[arg-type]
            mean_acc = sum(bool(o.correct) for o in outs) / len(outs)
            assert exact[0][0] == pytest.approx(mean_acc, abs=1e-9), (name, budget, p.id)
            mean_tok = sum(o.cost.completion for o in outs) / len(outs)
            assert exact[0][1].completion == pytest.approx(mean_tok)
            assert exact[0][1].prompt == pytest.approx(sum(o.cost.prompt for o in outs) / len(outs))
            assert exact[0][1].wall_time == pytest.approx(sum(o.cost.wall_time for o in outs) / len(outs))


@pytest.mark.parametrize("name, params", [("beta", {}), ("beta", {"threshold": 0.8}), ("esc", {}),
                                          ("esc", {"window": 3}), ("dirichlet", {}), ("bayes", {}),
                                          ("weighted", {"weight": "logprob"}),
                                          ("weighted", {"weight": "self_certainty"})], ids=str)
def test_vectorised_rules_make_the_strategies_decisions(name: str, params: dict) -> None:
    data = synthetic_bank(25, 16, seed=5)
    sources = orderings(data, 3, seed=2)
    ctxs = [ProblemContext(data.task, p, data.bank) for p in data.problems]
    stats = [ProblemStats.build(c) for c in ctxs]
    plan = [strategy_at(name, params, b) for b in (1, 2, 5, 8, 16)]
    res = fast_evaluate(plan, stats, OrderMatrix.build(stats, sources))
    assert res is not None
    for bi, (strat, b) in enumerate(plan):
        for p, ctx in enumerate(ctxs):
            for o, src in enumerate(sources):
                out = replay_one(ctx, strat, src, Budget(max_samples=b), o)
                r = p * len(sources) + o
                assert bool(res.correct[bi, r]) == bool(out.correct)
                assert int(res.samples[bi, r]) == out.samples_used
                assert res.confidence[bi, r] == pytest.approx(out.confidence, abs=1e-12)
        # mean compute equals the replayed mean
        outs = [replay_one(ctx, strat, src, Budget(max_samples=b), o)
                for ctx in ctxs for o, src in enumerate(sources)]
        for field in ("prompt", "cached", "completion", "wall_time", "samples"):
            assert getattr(res.cost[bi], field) == pytest.approx(
                sum(getattr(x.cost, field) for x in outs) / len(outs)), (name, b, field)


def test_compute_curves_stores_traceable_decisions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = synthetic_bank(8, 8, seed=1)
    with Store(tmp_path) as store:
        store.put_problems(data.problems)
        points = compute_curves(data, [("sc", {}), ("beta", {}), ("rpc", {})], [2, 4], orderings_count=3, seed=0,
                                store=store)
        labels = store.decision_labels()
        for p in points:
            assert p.label in labels
            ds = store.decisions(p.label)
            assert {d.ordering for d in ds} == {0, 1, 2}
            assert len(ds) == len(data.problems) * 3
            assert 0.0 <= p.accuracy <= 1.0
            # the stored decisions are the ones replayed (for exact points: the record of them)
            assert p.replay_accuracy == pytest.approx(sum(bool(d.correct) for d in ds) / len(ds))
            if p.method != "exact":
                assert p.accuracy == pytest.approx(p.replay_accuracy)
        few = compute_curves(data, [("beta", {})], [2], orderings_count=3, seed=0, store=store, store_orderings=1)
        assert few[0].stored_orderings == 1
    methods = {(p.strategy, p.method) for p in points}
    assert methods == {("sc", "exact"), ("beta", "fast"), ("rpc", "replay")}
    sc2 = next(p for p in points if p.strategy == "sc" and p.budget == 2)
    assert sc2.accuracy_se == 0.0 and sc2.replay_accuracy is not None


def test_budgets_and_kinds_are_checked() -> None:
    with pytest.raises(ConfigError, match="sc.n"):
        strategy_at("sc", {"n": 4}, 8)
    with pytest.raises(ConfigError, match="cannot answer without model calls|model calls"):
        strategy_at("usc", {}, 4)
    strat, b = strategy_at("greedy", {}, 8)  # no budget parameter: its own sample count
    assert b == 1
    strat, b = strategy_at("beta", {"threshold": 0.9}, 16)
    assert strat.params.max_samples == 16 and b == 16  # type: ignore[attr-defined]
