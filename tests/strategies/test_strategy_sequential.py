"""refine, deepen, sdv, cascade (+ RoutedBackend pricing) and the abstain wrapper."""

from __future__ import annotations

import asyncio

import pytest
from strategy_helpers import MockBackend, samples, solve

from ttscale.backends.routed import RoutedBackend
from ttscale.config import Budget, SamplingConfig
from ttscale.errors import ConfigError
from ttscale.runner import make_strategy
from ttscale.strategies.base import Done, Draw, View


# --- refine ---------------------------------------------------------------------------------
def refine_backend(revised: str) -> MockBackend:
    def f(text: str, rng) -> str:
        if "A reviewer scored" in text:
            return f"The answer is {revised}"
        return "The answer is " + rng.choice(["b", "c"])
    return MockBackend(responder=f)


def test_refine_accepts_a_revision_only_when_its_score_rises():
    d = solve("refine:n=3,rounds=2,verifier=scripted", refine_backend("a"))
    assert d.answer == "a" and d.confidence == pytest.approx(0.9)
    assert d.samples_used == 5  # 3 candidates + 2 revisions
    d = solve("refine:n=3,rounds=2,verifier=scripted", refine_backend("c"))
    assert d.answer in {"b", "c"} and d.confidence <= 0.4  # c (0.2) never replaces a better best


def test_refine_stops_at_target_and_feeds_back_the_verifier_text():
    s = make_strategy("refine:n=2,rounds=3,verifier=scripted,target=0.9")
    backend = refine_backend("a")
    d = solve(s, backend)
    assert d.answer == "a" and d.samples_used == 3  # the first revision hit the target
    revise_prompts = [t for t, _ in backend.calls if "A reviewer scored" in t]
    assert revise_prompts and "Reviewer feedback: looks like" in revise_prompts[0]


def test_refine_budget_exhaustion_returns_best_candidate():
    d = solve("refine:n=3,rounds=2,verifier=scripted", refine_backend("a"), budget=Budget(max_samples=3))
    assert d.samples_used == 3 and d.answer in {"b", "c"}


# --- deepen ---------------------------------------------------------------------------------
def test_deepen_grows_budgets_with_the_cue_and_stops_when_stable():
    seen: list[tuple[str, int]] = []

    class Recorder(MockBackend):
        async def generate(self, prompt, n, config: SamplingConfig, seed=None):
            seen.append((prompt, config.max_tokens))
            return await super().generate(prompt, n, config, seed)

    d = solve("deepen:start_tokens=4,growth=2,rounds=4", Recorder(default={"a": 1.0}))
    assert d.answer == "a" and d.samples_used == 2 and d.confidence == 1.0
    assert [m for _, m in seen] == [4, 8]
    assert seen[1][0].endswith("The answer is a Wait, let me check this.")


def test_deepen_stage_without_an_answer_keeps_the_previous_one():
    ss = samples(["a"], stream="deepen0") + samples([None], stream="deepen1", texts=[" hmm"])
    d = make_strategy("deepen:rounds=3").decide(View(samples=ss, prompt="Q"))
    assert isinstance(d, Done) and d.answer == "a"


def test_deepen_changing_answers_run_to_the_last_round():
    ss = samples(["a"], stream="deepen0") + samples(["b"], stream="deepen1")
    a = make_strategy("deepen:rounds=3").decide(View(samples=ss, prompt="Q"))
    assert isinstance(a, Draw) and a.stream == "deepen2" and a.overrides == {"max_tokens": 64}
    ss += samples(["c"], stream="deepen2")
    d = make_strategy("deepen:rounds=3").decide(View(samples=ss, prompt="Q"))
    assert d.answer == "c" and d.confidence == pytest.approx(1 / 3)


# --- sdv ------------------------------------------------------------------------------------
def ex(text: str):
    import re
    m = re.search(r"answer is\s+(\w+)", text)
    return m.group(1) if m else None


def test_sdv_stops_when_probes_agree_with_the_detected_answer():
    d = solve("sdv:probes=3", MockBackend(default={"a": 1.0}))
    assert d.answer == "a" and d.samples_used == 4 and d.confidence == pytest.approx(1.0)


def test_sdv_detects_an_answer_before_a_hesitation_marker():
    from ttscale.strategies.sdv import SolveDetectVerify
    v = View(samples=[], extract=ex)
    assert SolveDetectVerify._detect(v, "so the answer is 4 wait, maybe", "wait, maybe") == "4"
    v = View(samples=[], extract=lambda t: None if "wait" in t.lower() else ex(t))
    assert SolveDetectVerify._detect(v, "the answer is 4. Wait, maybe", ". Wait, maybe") == "4"


def test_sdv_continues_solving_on_disagreement_and_escalates_when_finished():
    base = samples(["a"], stream="sdv-solve0")
    probes = samples(["b", "b", "c"], stream="sdv-verify0")
    s = make_strategy("sdv:probes=3,escalate=2")
    a = s.decide(View(samples=base + probes, prompt="Q", extract=ex))
    assert isinstance(a, Draw) and a.stream == "sdv-escalate" and a.n == 2
    esc = samples(["b", "a"], stream="sdv-escalate")
    d = s.decide(View(samples=base + probes + esc, prompt="Q", extract=ex))
    assert isinstance(d, Done) and d.answer == "b" and d.confidence == pytest.approx(3 / 6)


def test_sdv_truncated_chunk_continues_the_solution():
    chunk = [s.model_copy(update={"finish_reason": "length", "text": "Let me think"})
             for s in samples([None], stream="sdv-solve0")]
    a = make_strategy("sdv:chunk_tokens=5").decide(View(samples=chunk, prompt="Q: ", extract=ex))
    assert isinstance(a, Draw) and a.stream == "sdv-solve1" and a.prompt == "Q: Let me think"


def test_sdv_validates_agree_fraction():
    with pytest.raises(ConfigError, match="agree"):
        make_strategy("sdv:agree=0")


# --- cascade --------------------------------------------------------------------------------
def routed(cheap: dict, strong: dict) -> RoutedBackend:
    return RoutedBackend(MockBackend(default=cheap, model="cheap", tokens=10),
                         {"strong": MockBackend(default=strong, model="strong", tokens=10)},
                         prices={"default": (1.0, 2.0), "strong": (10.0, 30.0)})


def test_cascade_decisive_cheap_vote_never_calls_the_strong_model():
    d = solve("cascade:cheap_n=4", routed({"a": 1.0}, {"b": 1.0}))
    assert d.answer == "a" and d.samples_used == 4
    assert d.usage.cost == pytest.approx((2 * 1.0 + 40 * 2.0) / 1e6)  # prompt counted once


def test_cascade_escalates_and_accounts_both_prices():
    d = solve("cascade:cheap_n=4,strong_n=2,strong_weight=3", routed({"a": 0.5, "b": 0.5}, {"c": 1.0}))
    assert d.samples_used == 6 and d.answer == "c"
    cheap_cost = (2 * 1.0 + 40 * 2.0) / 1e6
    strong_cost = (2 * 10.0 + 20 * 30.0) / 1e6
    assert d.usage.cost == pytest.approx(cheap_cost + strong_cost)


def test_cascade_max_cost_blocks_escalation():
    d = solve("cascade:cheap_n=4,max_cost=1e-9", routed({"a": 0.5, "b": 0.5}, {"c": 1.0}))
    assert d.samples_used == 4 and d.answer in {"a", "b"}


def test_routed_backend_rejects_prices_for_unknown_routes():
    with pytest.raises(ConfigError, match="no route named"):
        RoutedBackend(MockBackend(), {}, prices={"strongg": (1, 1)})
    b = routed({"a": 1.0}, {"b": 1.0})
    assert b.for_stream("strong").model == "strong" and b.for_stream("main").model == "cheap"
    asyncio.run(b.aclose())


# --- abstain --------------------------------------------------------------------------------
def test_abstain_withholds_low_confidence_answers_only():
    ss = samples(["a", "b", "a", "b"])
    d = make_strategy("abstain:inner=sc;n=4,threshold=0.6").decide(View(samples=ss))
    assert isinstance(d, Done) and d.answer is None and d.confidence == pytest.approx(0.5)
    d = make_strategy("abstain:inner=sc;n=4,threshold=0.5").decide(View(samples=ss))
    assert d.answer == "a"
    d = solve("abstain:inner=beta;threshold=0.99;max_samples=6,threshold=0.9", MockBackend(default={"a": 1.0}))
    assert d.answer == "a" and d.samples_used == 6


def test_abstain_bad_inner_specs():
    from ttscale.errors import UnknownNameError
    with pytest.raises(UnknownNameError):
        make_strategy("abstain:inner=nope")
    with pytest.raises(ConfigError, match="beta.bogus"):
        make_strategy("abstain:inner=beta;bogus=1")
    with pytest.raises(ConfigError, match="itself"):
        make_strategy("abstain:inner=abstain")
