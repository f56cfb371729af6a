"""Every strategy's replay over the bank its live run left reproduces the live decision."""

from __future__ import annotations

import pytest
from strategy_helpers import MockBackend, problem, replay, solve

from ttscale.backends.routed import RoutedBackend
from ttscale.registry import strategies
from ttscale.store import Store


def backend_for(name: str):
    def f(text: str, rng) -> str:
        if "most consistent response is Response" in text:
            return str(rng.randint(1, 4))
        if "A reviewer scored" in text:
            return "The answer is " + rng.choice(["a", "b"])
        return "The answer is " + rng.choices(["a", "b", "c", "x"], [0.45, 0.3, 0.15, 0.1])[0] + \
            (" wait" if rng.random() < 0.3 else "")
    if name == "cascade":
        return RoutedBackend(MockBackend(responder=f, model="cheap"),
                             {"strong": MockBackend(default={"a": 0.9, "b": 0.1}, model="strong")},
                             prices={"default": (1, 1), "strong": (5, 5)})
    return MockBackend(responder=f, logprob_means={}, tokens=12)


SPECS = {
    "greedy": "greedy", "single": "single", "sc": "sc:n=5", "weighted": "weighted:n=5,weight=scripted",
    "rpc": "rpc:n=6", "borda": "borda:n=5", "bon": "bon:n=5,scorer=scripted+logprob",
    "beta": "beta:max_samples=12", "dirichlet": "dirichlet:max_samples=12", "esc": "esc:window=3,max_samples=12",
    "bayes": "bayes:max_samples=12", "voi": "voi:max_samples=12,signal=auto,batch=0",
    "usc": "usc:n=4", "gsa": "gsa:n=3", "refine": "refine:n=3,verifier=scripted",
    "deepen": "deepen:start_tokens=4", "sdv": "sdv", "cascade": "cascade:cheap_n=3",
    "abstain": "abstain:inner=beta;max_samples=8,threshold=0.8",
}


def test_every_registered_strategy_is_covered():
    assert set(strategies.names()) <= set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_replay_reproduces_live(name, seed, tmp_path):
    store = Store(tmp_path)
    pids = [f"p{i}" for i in range(3)]
    for pid in pids:
        prob = problem(prompt=f"Q {pid}", pid=pid)
        live = solve(SPECS[name], backend_for(name), prob=prob, store=store, seed=seed)
        again = replay(SPECS[name], store, prob=prob)
        keys = ("answer", "confidence", "samples_used", "verifier_calls", "votes", "sample_index", "text",
                "usage", "correct")
        assert {k: getattr(again, k) for k in keys} == {k: getattr(live, k) for k in keys}, name
