"""Adaptive stopping rules: beta, dirichlet, esc, bayes and voi (ours)."""

from __future__ import annotations

import math

import pytest
from strategy_helpers import MockBackend, samples, solve

from ttscale.config import Budget
from ttscale.runner import make_strategy
from ttscale.strategies.adaptive import (
    beta_confidence,
    change_probability,
    mass_mode_probability,
    mode_probability,
    seen_mass,
    voi_gain,
)
from ttscale.strategies.base import Done, Draw, View


def act(spec: str, answers, **kw):
    return make_strategy(spec).decide(View(samples=samples(answers, **kw)))


def test_beta_confidence_formula():
    assert beta_confidence(4, 0) == pytest.approx(1 - 1 / 32)
    assert beta_confidence(3, 0) == pytest.approx(1 - 1 / 16)
    assert beta_confidence(2, 2) == pytest.approx(0.5)


def test_beta_stops_on_four_unanimous_not_three():
    assert isinstance(act("beta", ["a"] * 3), Draw)
    d = act("beta", ["a"] * 4)
    assert isinstance(d, Done) and d.answer == "a" and d.confidence == pytest.approx(31 / 32)


def test_beta_ignores_no_answers_and_stops_at_the_cap_with_a_tie_to_first_seen():
    assert isinstance(act("beta", ["a", None, None, "a", "a"]), Draw)
    d = act("beta:max_samples=4", ["b", "a", "a", "b"])
    assert isinstance(d, Done) and d.answer == "b" and d.confidence == pytest.approx(0.5)
    d = act("beta:max_samples=3", [None, None, None])
    assert isinstance(d, Done) and d.answer is None


def test_dirichlet_uses_dirichlet_with_three_answers_and_beta_otherwise():
    assert act("dirichlet", ["a"] * 4).confidence == pytest.approx(31 / 32)
    d = act("dirichlet:threshold=0.9", ["a"] * 8 + ["b", "c"])
    assert isinstance(d, Done) and d.answer == "a" and 0.9 <= d.confidence <= 1.0
    assert isinstance(act("dirichlet", ["a", "a", "b", "c"]), Draw)


def test_esc_stops_only_at_a_unanimous_full_window():
    assert act("esc:window=3", ["a", "a"]) == Draw(3)  # mid-window: draw... a window
    assert isinstance(act("esc:window=3", ["a", "a", "a"]), Done)
    assert isinstance(act("esc:window=3", ["a", "a", "b"]), Draw)
    assert isinstance(act("esc:window=3", ["a", "b", "c", "b", "b", None]), Draw)  # None breaks unanimity
    d = act("esc:window=3", ["a", "b", "c", "b", "b", "b"])
    assert isinstance(d, Done) and d.answer == "b" and d.confidence == pytest.approx(4 / 6)


def test_bayes_factor_rule():
    # one distinct answer: BF = P/(1-P) with the unseen pseudo-class; 4 unanimous clears B=10
    assert mode_probability((4.0,)) == pytest.approx(1 - 0.5 ** 5, abs=0.02)
    assert isinstance(act("bayes:threshold=10", ["a"] * 4), Done)
    assert isinstance(act("bayes:threshold=10", ["a"] * 2), Draw)
    assert isinstance(act("bayes:threshold=1000", ["a"] * 4), Draw)
    assert isinstance(act("bayes", ["a", "b"] * 3), Draw)


def test_voi_gain_shrinks_with_margin_and_horizon():
    g_close, _ = voi_gain(3, 2, 30)
    g_wide, _ = voi_gain(8, 0, 30)
    g_end, _ = voi_gain(3, 2, 0)
    assert g_close > g_wide > 0 and g_end == 0.0
    # the "share" model counts near-ties as worth little: a flat race gains less than a lopsided doubt
    flat, _ = voi_gain(5, 5, 30, pair_share=0.2)
    assert flat < voi_gain(5, 5, 30)[0]


def test_voi_stops_early_on_unanimity_never_before_min_samples_and_at_the_cap():
    assert isinstance(act("voi:min_samples=3", ["a", "a"]), Draw)
    d = act("voi", ["a"] * 6)
    assert isinstance(d, Done) and d.answer == "a" and d.confidence > 0.95
    assert isinstance(act("voi", ["a", "b", "a", "b"]), Draw)
    d = act("voi:max_samples=4", ["a", "b", "a", "b"])
    assert isinstance(d, Done) and d.answer == "a"


def test_voi_posterior_batches_are_sized_from_the_lead():
    # lead 1:0 needs 3 more unanimous votes for the beta rule; batch=0 draws them at once
    a = act("voi:batch=0,min_samples=1,epsilon=0.0001", ["a"])
    assert isinstance(a, Draw) and a.n == 3


def test_voi_signal_weights_tilt_the_tally_towards_short_confident_paths():
    from ttscale.strategies.adaptive import ValueOfInformation
    v = ValueOfInformation(signal="logprob")
    ss = samples(["a", "a", "b", "b", "b"], logprobs=[-0.1, -0.1, -2.0, -2.0, -2.0])
    assert v._signal(ss) == "logprob" and ValueOfInformation()._signal(ss) == "logprob"
    w = v._weights(ss, "logprob")
    assert w is not None and w[0] > 1.0 > w[2] and all(0.5 <= x <= 1.5 for x in w)
    assert ValueOfInformation(signal="none")._signal(ss) == "none"
    assert v._weights(ss, "none") is None
    # auto weights by likelihood only when every sample carries it
    assert ValueOfInformation()._signal(samples(["a", "b"])) == "none"


def test_voi_gain_counts_the_spread_of_draws_landing_on_the_pair():
    # with every draw on the pair the walk is the plain binomial race
    from scipy.stats import binom
    q_grid_exact = voi_gain(3, 2, 30, share=1.0)[0]
    assert q_grid_exact > 0
    # a flat problem near the cap: 9 draws left, each on the pair with p = 0.1 (0.9 expected).
    # A lead of 1 is overturned only if 2+ land on the pair, which happens 23% of the time:
    # the gain is small but not zero (rounding the mean horizon to 1 draw made it exactly 0)
    assert binom.sf(1, 9, 0.1) == pytest.approx(0.225, abs=0.001)
    g, _ = voi_gain(2, 1, 9, share=0.1)
    assert 0.0 < g < voi_gain(2, 1, 9, share=1.0)[0]
    # more draws on the pair, more to gain; a lead beyond the remaining draws gains nothing
    assert voi_gain(2, 1, 9, share=0.3)[0] > g
    assert voi_gain(12, 1, 9, share=1.0)[0] == 0.0


def test_voi_weighs_every_rival_on_counts_and_the_pair_with_a_signal():
    from ttscale.strategies.adaptive import ValueOfInformation
    v = ValueOfInformation(max_samples=40)
    # counts only (no log-probs): the sc rule; with 3 draws left a 3-2-2-2 lead can still be
    # overturned by any of the three 2-vote answers
    flat = samples(["a", "a", "a", "b", "b", "c", "c", "d", "d"] + [f"x{i}" for i in range(28)])
    stop, _ = v.confidence(View(samples=flat), flat)
    assert not stop
    # the calibrated rule treats the same flat race as nearly worthless and stops
    stop_cal, _ = ValueOfInformation(max_samples=40, model="calibrated").confidence(View(samples=flat), flat)
    assert stop_cal
    # with likelihoods on every sample, auto is the calibrated rule
    weighted = samples(["a", "a", "a", "b", "b", "c", "c", "d", "d"] + [f"x{i}" for i in range(28)],
                       logprobs=[-0.5] * 37)
    assert v.confidence(View(samples=weighted), weighted)[0]


def test_change_probability_counts_ties_the_way_majority_vote_breaks_them():
    # a one-vote lead, one draw left, which lands on the pair for sure: the rival draws it
    # with probability E[1 - q] under Beta(11, 10); that ties the vote, which changes the
    # answer only when the rival was seen first
    p_rival = 10 / 21
    assert change_probability(10, 9, 1, 1.0, tie_flips=True) == pytest.approx(p_rival, abs=0.01)
    assert change_probability(10, 9, 1, 1.0, tie_flips=False) == 0.0
    # more draws left, more chance to change; a lead out of reach, none
    assert change_probability(10, 9, 5, 1.0) > change_probability(10, 9, 3, 1.0) > 0
    assert change_probability(10, 2, 7, 1.0, tie_flips=True) == 0.0
    assert change_probability(10, 2, 8, 1.0, tie_flips=True) > 0.0


def test_voi_on_counts_draws_on_a_one_vote_lead_when_a_tie_would_go_to_the_rival():
    # 39 drawn, "b" seen first and one vote behind: the 40th draw can tie, and majority vote
    # would then answer "b", so voi draws it; with "a" seen first a tie keeps "a"
    first_b = ["b"] + ["a"] * 10 + ["b"] * 8 + [f"x{i}" for i in range(20)]
    first_a = ["a"] + ["a"] * 9 + ["b"] * 9 + [f"x{i}" for i in range(20)]
    assert isinstance(act("voi", first_b), Draw)
    assert isinstance(act("voi", first_a), Done)


@pytest.mark.parametrize("spec", ["beta", "dirichlet", "esc", "bayes", "voi", "voi:signal=auto,batch=0"])
def test_adaptive_rules_live_on_mock_respect_budget_and_stop_early_when_easy(spec):
    easy = solve(spec, MockBackend(default={"a": 1.0}))
    assert easy.answer == "a" and easy.samples_used <= 6
    capped = solve(spec, MockBackend(default={"a": 0.34, "b": 0.33, "c": 0.33}), budget=Budget(max_samples=7))
    assert capped.samples_used <= 7 and capped.answer in {"a", "b", "c"}
    none = solve(spec, MockBackend(default={"None": 1.0}), budget=Budget(max_samples=5))
    assert none.answer is None and none.samples_used == 5


# --- voi's seen mass: exp(logprob_sum) of distinct completions proves a lower bound on shares

def exact(answers, probs, texts=None):
    """Samples whose summed log-probs are their sampling log-probabilities."""
    return [s.model_copy(update={"logprob_sum": math.log(p), "sampled_logprob": True})
            for s, p in zip(samples(answers, texts=texts), probs, strict=True)]


def test_seen_mass_counts_each_distinct_completion_once():
    view = View(samples=[])
    d, mass, unseen = seen_mass(view, exact(["a", "a", "a", "b"], [0.3, 0.3, 0.1, 0.2],
                                            texts=["The answer is a", "The answer is a", "a.", "b"]))
    assert d.answer == "a" and mass == pytest.approx({"a": 0.4, "b": 0.2}) and unseen == pytest.approx(0.4)
    assert seen_mass(view, samples(["a"], logprobs=[-0.1])) is None  # no sampling log-probs: no mass


def test_mass_certificate_is_exact_and_needs_more_than_the_unseen_mass():
    assert mass_mode_probability((0.5, 0.2), (1, 1), 0.29) == 1.0  # 0.5 > 0.2 + 0.29
    assert mass_mode_probability((0.5, 0.2), (1, 1), 0.31) < 1.0
    assert mass_mode_probability((0.1, 0.6), (2, 1), 0.3) == 0.0  # the rival's proven mass wins


def test_voi_stops_after_one_sample_that_holds_most_of_the_mass():
    d = make_strategy("voi").decide(View(samples=exact(["a"], [0.6])))
    assert isinstance(d, Done) and d.answer == "a" and d.confidence == 1.0
    assert isinstance(make_strategy("voi:mass=off").decide(View(samples=exact(["a"], [0.6]))), Draw)
    assert isinstance(make_strategy("voi").decide(View(samples=exact(["a"], [0.4]))), Draw)
    # a duplicate adds no mass: two draws of a 0.3 completion prove 0.3, not 0.6
    assert isinstance(make_strategy("voi:certainty=1.0").decide(View(samples=exact(["a", "a"], [0.3, 0.3]))), Draw)


def test_voi_without_sampling_logprobs_decides_as_with_mass_off():
    ss = samples(["a", "a", "b", "a"], logprobs=[-0.1, -0.2, -0.1, -0.3])
    for on, off in (("voi", "voi:mass=off"), ("voi:epsilon=0.05", "voi:epsilon=0.05,mass=off")):
        assert make_strategy(on).decide(View(samples=ss)) == make_strategy(off).decide(View(samples=ss))


def test_voi_with_exact_mock_logprobs_stops_sooner_and_replays_exactly(tmp_path):
    from strategy_helpers import problem, replay

    from ttscale.store import Store
    dist = {"a": 0.7, "b": 0.2, "c": 0.1}
    used = {}
    for mass in ("auto", "off"):
        store = Store(tmp_path / mass)
        runs = [solve(f"voi:mass={mass}", MockBackend(default=dist, exact_logprobs=True),
                      prob=problem(pid=f"p{i}"), store=store, seed=i) for i in range(12)]
        used[mass] = sum(r.samples_used for r in runs)
        again = [replay(f"voi:mass={mass}", store, prob=problem(pid=f"p{i}")) for i in range(12)]
        assert [(r.answer, r.samples_used, r.confidence) for r in again] == \
            [(r.answer, r.samples_used, r.confidence) for r in runs]
    assert used["auto"] < used["off"]


def test_negligible_seen_mass_leaves_voi_to_the_counts():
    # long unique completions (a reasoning chain at p = 1e-30 each) prove nothing: same as mass=off
    ss = exact(["a"] * 7, [1e-30] * 7, texts=[f"chain {i}, so the answer is a" for i in range(7)])
    for on, off in (("voi", "voi:mass=off"), ("voi:epsilon=0.001", "voi:epsilon=0.001,mass=off")):
        assert make_strategy(on).decide(View(samples=ss)) == make_strategy(off).decide(View(samples=ss))
