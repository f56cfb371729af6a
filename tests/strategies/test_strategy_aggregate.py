"""USC and GSA: the model's pick / rewrite is a stored draw with its own prompt and stream."""

from __future__ import annotations

import pytest
from strategy_helpers import AnswerTask, MockBackend, samples, solve

from ttscale.config import Budget
from ttscale.runner import make_strategy
from ttscale.strategies.aggregate import gsa_prompt, parse_pick, usc_prompt, with_user_text
from ttscale.strategies.base import Done, Draw, View


def responder(pick: str):
    def f(text: str, rng) -> str:
        if "most consistent response is Response" in text:
            return pick
        if "Candidate 1:" in text:
            return "The answer is b"
        return "The answer is " + rng.choice(["a", "a", "b"])
    return f


def test_parse_pick():
    assert parse_pick(" 3.", 4) == 2
    assert parse_pick("Response 5", 4) is None and parse_pick("none", 4) is None


def test_prompts_keep_the_problem_kind():
    ss = samples(["a", "b"])
    assert "Response 2: The answer is b" in usc_prompt("Q?", ss, 100)
    chat = usc_prompt([{"role": "system", "content": "s"}, {"role": "user", "content": "Q?"}], ss, 100)
    assert chat[0] == {"role": "system", "content": "s"} and "Response 1:" in chat[1]["content"]
    g = gsa_prompt("Country: Peru\nCapital:", ss, 100)
    assert g.endswith("Country: Peru\nCapital:") and "Candidate 2: The answer is b" in g
    assert with_user_text([{"role": "user", "content": "Q"}], "X", prepend=True)[0]["content"] == "X\n\nQ"


def test_usc_draws_candidates_then_one_pick_on_its_own_stream():
    s = make_strategy("usc:n=3")
    a = s.decide(View(samples=samples(["a", "b", "a"]), prompt="Q?"))
    assert isinstance(a, Draw) and a.stream == "usc" and a.overrides["temperature"] == 0.0
    d = solve("usc:n=4", MockBackend(responder=responder("2")))
    assert d.samples_used == 5 and d.sample_index == 1
    assert 0.0 < d.confidence <= 1.0


def test_usc_invalid_pick_falls_back_to_majority_at_half_confidence():
    ss = samples(["a", "b", "a"]) + samples(["zzz"], stream="usc", texts=["I cannot decide"])
    d = make_strategy("usc:n=3").decide(View(samples=ss))
    assert isinstance(d, Done) and d.answer == "a" and d.confidence == pytest.approx(2 / 3 / 2)


def test_usc_works_without_extractable_answers():
    texts = ["poem one", "poem two", "poem two"]
    ss = samples([None, None, None], texts=texts) + samples([None], stream="usc", texts=["3"])
    d = make_strategy("usc:n=3").decide(View(samples=ss))
    assert d.answer is None and d.text == "poem two" and d.confidence == pytest.approx(2 / 3)


def test_gsa_answer_comes_from_the_aggregate_and_confidence_from_agreement():
    d = solve("gsa:n=4", MockBackend(responder=responder("1")))
    assert d.answer == "b" and d.samples_used == 5
    assert d.text == "The answer is b"


def test_gsa_budget_exhaustion_votes_the_candidates():
    d = solve("gsa:n=4", MockBackend(default={"a": 1.0}), budget=Budget(max_samples=4))
    assert d.answer == "a" and d.samples_used == 4


def test_gsa_free_form_keeps_text_with_zero_confidence():
    ss = samples([None, None], texts=["x", "y"]) + samples([None], stream="gsa", texts=["better"])
    d = make_strategy("gsa:n=2").decide(View(samples=ss))
    assert d.answer is None and d.text == "better" and d.confidence == 0.0
    assert AnswerTask().extract("better") is None
