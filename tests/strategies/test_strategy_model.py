"""Every strategy end to end on the real embedded model (Gemma 3 270M) on `facts`.

Two problems, tiny N, one shared store: strategies that draw the problem's own stream reuse
each other's samples, so the whole test costs well under a couple of minutes of model time.
"""

from __future__ import annotations

import asyncio

import pytest

from ttscale.backends.routed import RoutedBackend
from ttscale.engine import Engine, LiveSource
from ttscale.registry import strategies, tasks
from ttscale.runner import make_strategy
from ttscale.store import Store

SPECS = [
    "greedy", "single", "sc:n=4", "weighted:n=4", "rpc:n=4", "borda:n=4", "bon:n=4,scorer=self_certainty",
    "beta:max_samples=6", "dirichlet:max_samples=6", "esc:window=2,max_samples=6", "bayes:max_samples=6",
    "voi:max_samples=6", "usc:n=3", "gsa:n=3", "refine:n=2,rounds=1,verifier=judge",
    "deepen:start_tokens=4,rounds=2", "sdv:chunk_tokens=4,max_chunks=2,probes=2,escalate=1",
    "cascade:cheap_n=3,strong_n=1", "abstain:inner=sc;n=4,threshold=0.5",
]


@pytest.mark.model
def test_every_strategy_runs_on_the_embedded_model(embedded_backend, tmp_path):
    assert {s.split(":")[0] for s in SPECS} == set(strategies.names())
    task = tasks.create("facts")
    problems = task.load()[:2]
    store = Store(tmp_path)
    backend = RoutedBackend(embedded_backend, {"strong": embedded_backend},
                            prices={"default": (0.1, 0.4), "strong": (1.0, 4.0)})
    engine = Engine(task, LiveSource(backend, store, task, seed=0), store=store, backend=embedded_backend)
    for spec in SPECS:
        decisions = asyncio.run(engine.run(problems, make_strategy(spec), label=spec))
        assert len(decisions) == 2, spec
        for d in decisions:
            assert 0.0 <= d.confidence <= 1.0, spec
            assert d.samples_used >= 1 and d.usage.completion_tokens >= 1, spec
            assert d.correct in (True, False), spec
            if spec.startswith("cascade"):
                assert d.usage.cost > 0
    assert store.count_samples() > 0
