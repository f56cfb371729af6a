"""Voting rules: sc, weighted, rpc, borda — ties, no-answer samples, budget exhaustion."""

from __future__ import annotations

import math

import pytest
from strategy_helpers import MockBackend, samples, solve

from ttscale.config import Budget
from ttscale.runner import make_strategy
from ttscale.strategies.base import Done, Draw, Verify, View
from ttscale.strategies.vote import rpc_keep, weibull_mixture_fit


def view(ss, **kw) -> View:
    return View(samples=ss, **kw)


def test_sc_majority_ties_go_to_first_seen_and_no_answers_do_not_vote():
    sc = make_strategy("sc:n=5")
    d = sc.decide(view(samples(["b", None, "a", "a", "b"])))
    assert isinstance(d, Done) and d.answer == "b" and d.confidence == pytest.approx(0.5)
    assert d.votes == {"b": 2.0, "a": 2.0}
    d = sc.decide(view(samples([None, None, None, None, None])))
    assert d.answer is None and d.confidence == 0.0


def test_sc_merges_equivalent_answers_through_view_same():
    same = lambda x, y: x.rstrip("0").rstrip(".") == y.rstrip("0").rstrip(".")  # noqa: E731
    d = make_strategy("sc:n=3").decide(view(samples(["2.0", "3", "2"]), same=same))
    assert d.answer == "2.0" and d.votes["2.0"] == 2.0


def test_sc_draws_until_n_then_votes_and_budget_exhaustion_votes_what_is_there():
    backend = MockBackend(default={"a": 0.7, "b": 0.3})
    d = solve("sc:n=6", backend)
    assert d.samples_used == 6 and d.answer in {"a", "b"}
    d = solve("sc:n=6", backend, budget=Budget(max_samples=2))
    assert d.samples_used == 2


def test_weighted_logprob_weights_overturn_a_count_majority():
    ss = samples(["a", "b", "b"], logprobs=[-0.05, -3.0, -3.0])
    d = make_strategy("weighted:n=3,weight=logprob").decide(view(ss))
    assert d.answer == "a"  # exp(-0.05)=0.95 beats 2·exp(-3)=0.10
    assert d.confidence == pytest.approx(math.exp(-0.05) / (math.exp(-0.05) + 2 * math.exp(-3.0)))


def test_weighted_missing_signal_gets_the_mean_weight():
    ss = samples(["a", "b", "b"], logprobs=[-0.1, None, -2.0])
    d = make_strategy("weighted:n=3").decide(view(ss))
    fill = (math.exp(-0.1) + math.exp(-2.0)) / 2
    assert d.votes["b"] == pytest.approx(fill + math.exp(-2.0))


def test_weighted_by_verifier_asks_for_verdicts_first():
    backend = MockBackend(default={"a": 0.3, "b": 0.7})
    strat = make_strategy("weighted:n=6,weight=scripted")
    ss = samples(["b", "b", "a"])
    act = strat.decide(View(samples=ss[:3]))
    assert isinstance(act, Draw)
    strat3 = make_strategy("weighted:n=3,weight=scripted")
    act = strat3.decide(View(samples=ss))
    assert isinstance(act, Verify) and act.indices == (0, 1, 2) and act.verifier == "scripted"
    d = solve("weighted:n=6,weight=scripted", backend)
    assert d.verifier_calls == 6
    # scripted scores a=0.9, b=0.4: a wins unless b outnumbers it more than 2:1
    assert d.answer in {"a", "b"}


def test_weibull_mixture_fit_respects_bounds_and_rpc_prunes_the_low_component():
    p = [0.9, 0.92, 0.88, 0.91, 0.2, 0.25, 0.22, 0.93]
    w, k1, l1, k2, l2 = weibull_mixture_fit(p)
    assert 0.2 <= w <= 0.8 and min(k1, l1, k2, l2) >= 0.01
    keep = rpc_keep(p)
    assert keep == [True, True, True, True, False, False, False, True]
    assert rpc_keep([0.5, 0.2]) == [True, True]  # too few paths to fit


def test_rpc_pruned_paths_and_duplicate_texts_do_not_vote():
    lp = [math.log(x) for x in [0.9, 0.92, 0.2, 0.25, 0.22, 0.21]]
    ss = samples(["a", "a", "b", "b", "b", "b"], logprobs=lp,
                 texts=["The answer is a", "The answer is a", "The answer is b x", "The answer is b y",
                        "The answer is b z", "The answer is b w"])
    d = make_strategy("rpc:n=6").decide(view(ss))
    assert d.answer == "a"
    assert d.votes == {"a": pytest.approx(0.9)}  # identical texts count once; b's paths pruned
    d = make_strategy("rpc:n=6,prune=false").decide(view(ss))
    # without pruning b's four paths total 0.88; a's two identical texts count once: 0.9
    assert d.answer == "a" and d.votes == {"a": pytest.approx(0.9), "b": pytest.approx(0.88)}


def test_borda_rank_power_and_p0_is_majority():
    ss = samples(["a", "b", "b"], sc=[3.0, 1.0, 2.0])
    d = make_strategy("borda:n=3,p=1").decide(view(ss))
    # ranks: a=1 → 3, b(2.0)=2 → 2, b(1.0)=3 → 1 ⇒ a:3, b:3 → tie to first seen (a)
    assert d.votes == {"a": 3.0, "b": 3.0} and d.answer == "a"
    d = make_strategy("borda:n=3,p=0").decide(view(ss))
    assert d.answer == "b" and d.votes == {"a": 1.0, "b": 2.0}
    d = make_strategy("borda:n=3").decide(view(ss))
    assert d.votes["a"] == pytest.approx(3 ** 0.5) and d.votes["b"] == pytest.approx(2 ** 0.5 + 1)


def test_borda_ties_in_self_certainty_share_the_average_rank():
    ss = samples(["a", "b"], sc=[1.0, 1.0])
    d = make_strategy("borda:n=2,p=1").decide(view(ss))
    assert d.votes == {"a": 1.5, "b": 1.5} and d.answer == "a"
