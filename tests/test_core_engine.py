"""The engine on the scripted backend: strategies, budgets, store writes, replay == live."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from ttscale.backends.mock import MockBackend
from ttscale.backends.replay import ReplaySource
from ttscale.config import Budget, SamplingConfig
from ttscale.engine import Engine, LiveSource
from ttscale.errors import (
    BackendError,
    ConfigError,
    DataError,
    MissingDependencyError,
    UnknownNameError,
)
from ttscale.runner import make_strategy
from ttscale.store import Store
from ttscale.strategies.base import Done, Draw, Strategy, View
from ttscale.tasks.base import Task
from ttscale.types import Problem


class LetterTask(Task):
    """Answers are the text after 'The answer is'."""

    name = "letters"

    def __init__(self, problems: list[Problem]):
        super().__init__()
        self._problems = problems

    def load(self) -> list[Problem]:
        return self._problems

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        prefix = "The answer is "
        return text[len(prefix):].strip().lower() if text.startswith(prefix) else None


PROBLEMS = [Problem(id=f"q{i}", prompt=f"question {i}", answers=["a"]) for i in range(6)]
SCRIPT = {f"question {i}": {"a": 0.5, "b": 0.3, "None": 0.2} for i in range(6)}


def _engine(store=None, budget=None, seed=0, backend=None):
    task = LetterTask(PROBLEMS)
    backend = backend or MockBackend(SCRIPT)
    return Engine(task, LiveSource(backend, store, task, seed=seed), store=store, budget=budget,
                  backend=backend), backend


def test_sc_votes_over_answers_and_ignores_no_answer():
    engine, _ = _engine()
    d = asyncio.run(engine.solve(PROBLEMS[0], make_strategy("sc", n=16)))
    assert d.samples_used == 16
    assert d.answer in ("a", "b")
    assert sum(d.votes.values()) <= 16 and "None" not in d.votes
    assert d.confidence == pytest.approx(d.votes[d.answer] / sum(d.votes.values()))
    assert d.usage.completion_tokens == 16 * 10
    assert d.correct == (d.answer == "a")


def test_sc_tie_goes_to_first_seen_class():
    class Fixed:
        model = "fixed"

        async def generate(self, prompt, n, config, seed=None):
            from ttscale.types import Generation
            texts = ["The answer is b", "The answer is a", "The answer is a", "The answer is b"]
            return [Generation(text=t) for t in texts[:n]]

        async def aclose(self):
            pass

    engine, _ = _engine(backend=Fixed())
    d = asyncio.run(engine.solve(PROBLEMS[0], make_strategy("sc", n=4)))
    assert d.votes == {"b": 2.0, "a": 2.0} and d.answer == "b" and d.confidence == 0.5


def test_greedy_and_single():
    engine, backend = _engine()
    g = asyncio.run(engine.solve(PROBLEMS[0], make_strategy("greedy")))
    assert g.answer == "a" and g.samples_used == 1  # greedy = the mode of the script
    s = asyncio.run(engine.solve(PROBLEMS[1], make_strategy("single")))
    assert s.samples_used == 1


def test_every_sample_is_stored_as_drawn(tmp_path):
    store = Store(tmp_path)
    engine, backend = _engine(store)
    decisions = asyncio.run(engine.run(PROBLEMS, make_strategy("sc", n=5), label="sc"))
    assert len(decisions) == 6 and store.count_samples() == 30
    assert len(store.decisions("sc")) == 6
    # running again draws nothing new
    calls = len(backend.calls)
    engine2, backend2 = _engine(store)
    again = asyncio.run(engine2.run(PROBLEMS, make_strategy("sc", n=5), label="sc"))
    assert backend2.calls == [] and calls == 6
    assert [d.answer for d in again] == [d.answer for d in decisions]


def test_budget_caps_samples_and_tokens():
    engine, _ = _engine(budget=Budget(max_samples=3))
    d = asyncio.run(engine.solve(PROBLEMS[0], make_strategy("sc", n=10)))
    assert d.samples_used == 3
    engine, _ = _engine(budget=Budget(max_tokens=25))  # 10 tokens per sample
    d = asyncio.run(engine.solve(PROBLEMS[0], make_strategy("sc", n=10)))
    assert d.samples_used == 3  # drawn one at a time (max_tokens=32 > 25 left); stops once spent
    assert d.usage.completion_tokens <= 25 + 32
    engine, _ = _engine(budget=Budget(run_max_samples=10))
    ds = asyncio.run(engine.run(PROBLEMS, make_strategy("sc", n=5)))
    assert sum(d.samples_used for d in ds) <= 10 + 5 * 4  # concurrency 4: in-flight problems finish


@pytest.mark.parametrize("spec", [("sc", {"n": 8}), ("greedy", {}), ("single", {})])
def test_replay_reproduces_live_exactly(tmp_path, spec):
    store = Store(tmp_path)
    engine, backend = _engine(store, seed=7)
    strat = make_strategy(spec[0], **spec[1])
    live = asyncio.run(engine.run(PROBLEMS, strat))
    assert backend.calls and store.count_samples() > 0
    task = LetterTask(PROBLEMS)
    replay = Engine(task, ReplaySource(store.bank(), store.verdicts()))
    again = asyncio.run(replay.run(PROBLEMS, strat))
    assert [d.model_dump() for d in again] == [d.model_dump() for d in live]
    # a replay engine has no backend: it cannot have drawn anything new
    assert sum(len(v) for streams in store.bank().values() for v in streams.values()) == store.count_samples()


def test_replay_orderings_are_seeded_permutations(tmp_path):
    store = Store(tmp_path)
    engine, _ = _engine(store)
    asyncio.run(engine.run(PROBLEMS[:1], make_strategy("sc", n=8)))
    bank = store.bank()
    task = LetterTask(PROBLEMS)

    def first3(ordering):
        src = ReplaySource(bank, ordering=ordering, seed=1)
        return [s.index for s in asyncio.run(src.draw(PROBLEMS[0], "main", "", SamplingConfig(), 0, 3))]

    assert first3(0) == first3(0)
    assert len({tuple(first3(o)) for o in range(10)}) > 1
    # a bank that runs out makes the strategy finalize with what there is
    d = asyncio.run(Engine(task, ReplaySource(bank)).solve(PROBLEMS[0], make_strategy("sc", n=20)))
    assert d.samples_used == 8


def test_same_seed_same_samples_different_seed_differs():
    a, _ = _engine(seed=1)
    b, _ = _engine(seed=1)
    c, _ = _engine(seed=2)
    run = lambda e: [d.votes for d in asyncio.run(e.run(PROBLEMS, make_strategy("sc", n=8)))]  # noqa: E731
    assert run(a) == run(b)
    assert run(a) != run(c)


def test_strategy_errors_name_the_problem():
    with pytest.raises(UnknownNameError, match="choose one of"):
        make_strategy("nope")
    with pytest.raises(ConfigError, match="sc.k.*accepts: n"):
        make_strategy("sc:k=3")
    with pytest.raises(ConfigError, match="sc.n"):
        make_strategy("sc", n=0)


def test_runaway_strategy_fails_loudly():
    class Forever(Strategy):
        name = "forever"

        def decide(self, view: View):
            return Draw(1, stream="x")  # never looks at its stream, never finishes

        def finalize(self, view: View) -> Done:
            return Done(None)

    engine, _ = _engine(budget=Budget(max_samples=5))
    d = asyncio.run(engine.solve(PROBLEMS[0], Forever()))
    assert d.samples_used == 5 and d.answer is None


def test_replay_serves_a_bank_without_main_under_the_name_asked_for(tmp_path):
    from ttscale.types import Sample, Verdict

    bank = {"q0": {"gpt4": [Sample(problem_id="q0", index=i, stream="gpt4", text="t", answer=a)
                            for i, a in enumerate(["a", "a", "b"])]}}
    verdicts = [Verdict(problem_id="q0", sample_index=2, stream="gpt4", verifier="v", score=1.0)]
    src = ReplaySource(bank, verdicts)
    task = LetterTask(PROBLEMS)
    d = asyncio.run(Engine(task, src).solve(PROBLEMS[0], make_strategy("sc", n=3)))
    assert d.answer == "a" and d.samples_used == 3
    served = asyncio.run(src.draw(PROBLEMS[0], "main", "", SamplingConfig(), 2, 1))[0]
    assert served.stream == "main" and src.stored_verdict(served, "v").score == 1.0


@pytest.mark.parametrize("err", [
    ConfigError("voi.epsilon", "must be > 0"),
    UnknownNameError("strategy", "nope", ["sc", "beta"]),
    DataError("not JSON", source="rows.jsonl", row=3, field="answer"),
    BackendError("upstream said 500", upstream="http://127.0.0.1:1/v1", status=500),
    MissingDependencyError("vllm backend", "vllm"),
])
def test_errors_cross_process_boundaries_intact(err):
    """Process pools and Ray workers pickle errors; each must come back with its message and
    fields (ConfigError's two-argument constructor once broke the pool that carried it)."""
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.__dict__ == err.__dict__
