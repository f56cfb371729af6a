"""Best-of-N: any scorer, ties, no-answer samples, verifier budget."""

from __future__ import annotations

import pytest
from strategy_helpers import MockBackend, samples, solve

from ttscale.config import Budget
from ttscale.runner import make_strategy
from ttscale.strategies.base import Done, Verify, View


def test_bon_picks_the_highest_logprob_with_an_answer():
    ss = samples([None, "b", "a"], logprobs=[-0.01, -1.0, -0.5])
    d = make_strategy("bon:n=3").decide(View(samples=ss))
    assert isinstance(d, Done) and d.answer == "a" and d.sample_index == 2


def test_bon_ties_go_to_the_answer_most_tied_samples_share_then_first_drawn():
    ss = samples(["b", "a", "a", "c"], logprobs=[-0.5, -0.5, -0.5, -2.0])
    d = make_strategy("bon:n=4").decide(View(samples=ss))
    assert d.answer == "a" and d.sample_index == 1
    ss = samples(["b", "a", "c"], logprobs=[-0.5, -0.5, -2.0])
    assert make_strategy("bon:n=3").decide(View(samples=ss)).answer == "b"


def test_bon_self_certainty_and_brevity_scorers():
    ss = samples(["a", "b"], sc=[0.2, 0.9], tokens=[5, 500])
    assert make_strategy("bon:n=2,scorer=self_certainty").decide(View(samples=ss)).answer == "b"
    assert make_strategy("bon:n=2,scorer=brevity").decide(View(samples=ss)).answer == "a"


def test_bon_ensemble_averages_ranks():
    ss = samples(["a", "b", "c"], sc=[0.9, 0.5, 0.1], tokens=[300, 10, 5], logprobs=[-0.1, -0.2, -0.3])
    # ranks: self_certainty a1 b.5 c0; brevity a0 b.5 c1; logprob a1 b.5 c0 → a .667, b .5, c .333
    d = make_strategy("bon:n=3,scorer=self_certainty+brevity+logprob").decide(View(samples=ss))
    assert d.answer == "a"


def test_bon_verifier_scores_every_candidate_once_and_confidence_is_the_score():
    backend = MockBackend(default={"a": 0.3, "b": 0.4, "c": 0.3})
    d = solve("bon:n=6,scorer=scripted", backend)
    assert d.verifier_calls == 6
    assert d.answer == "a" and d.confidence == pytest.approx(0.9)
    ss = samples(["a", "b"])
    act = make_strategy("bon:n=2,scorer=scripted").decide(View(samples=ss))
    assert isinstance(act, Verify) and act.indices == (0, 1)


def test_bon_budget_exhaustion_and_all_no_answers():
    backend = MockBackend(default={"None": 1.0})
    d = solve("bon:n=4", backend)
    assert d.answer is None and d.confidence == 0.0 and d.samples_used == 4
    d = solve("bon:n=8", MockBackend(default={"a": 1.0}), budget=Budget(max_samples=3))
    assert d.samples_used == 3 and d.answer == "a"
