"""Helpers for strategy tests: a tiny task that reads "The answer is X", a scripted
verifier, and a one-call live runner on MockBackend (optionally into a Store)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

from ttscale.backends.mock import MockBackend
from ttscale.backends.replay import ReplaySource
from ttscale.config import Budget, SamplingConfig
from ttscale.engine import Engine, LiveSource
from ttscale.registry import verifiers
from ttscale.runner import make_strategy
from ttscale.store import Store
from ttscale.tasks.base import Task
from ttscale.types import Decision, Problem, Sample, Verdict

_ANS = re.compile(r"answer is\s+(\S+)", re.IGNORECASE)


class AnswerTask(Task):
    """Answers are the word after "answer is", lower-cased; "None"/"" means no answer."""

    name = "answer-test"
    answer_type = "text"

    def load(self) -> list[Problem]:
        return [Problem(id="p1", prompt="Q1: pick", answers=["a"], task=self.name)]

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        m = _ANS.search(text)
        return m.group(1).strip(".").lower() if m else None


class ScriptedVerifier:
    """Scores samples by their answer from a fixed table (unknown answers score 0.1)."""

    name = "scripted"
    table = {"a": 0.9, "b": 0.4, "c": 0.2}

    def __init__(self, task: Any = None, **options: Any) -> None:
        self.task = task
        self.calls: list[int] = []

    async def score(self, problem: Problem, samples: Sequence[Sample], backend: Any = None) -> list[Verdict]:
        self.calls.append(len(samples))
        return [Verdict(problem_id=s.problem_id, sample_index=s.index, stream=s.stream, verifier="scripted",
                        score=self.table.get(s.answer or "", 0.1), label="ok", raw=f"looks like {s.answer}")
                for s in samples]


verifiers.register("scripted", ScriptedVerifier)


def problem(prompt: str = "Q1: pick", answers: Sequence[str] = ("a",), pid: str = "p1") -> Problem:
    return Problem(id=pid, prompt=prompt, answers=list(answers), task="answer-test")


def solve(strategy: Any, backend: Any, *, prob: Problem | None = None, task: Task | None = None,
          store: Store | None = None, budget: Budget | None = None, seed: int = 0,
          sampling: SamplingConfig | None = None) -> Decision:
    """Run one strategy live on one problem (engine + LiveSource)."""
    task = task or AnswerTask()
    strat = make_strategy(strategy) if isinstance(strategy, str) else strategy
    engine = Engine(task, LiveSource(backend, store, task, seed=seed), store=store, budget=budget,
                    sampling=sampling, backend=backend)
    return asyncio.run(engine.solve(prob or problem(), strat))


def replay(strategy: Any, store: Store, *, prob: Problem | None = None, task: Task | None = None,
           budget: Budget | None = None) -> Decision:
    """Replay the store's bank in index order (reproduces the live run)."""
    task = task or AnswerTask()
    strat = make_strategy(strategy) if isinstance(strategy, str) else strategy
    engine = Engine(task, ReplaySource(store.bank(), store.verdicts(), ordering=None), budget=budget)
    return asyncio.run(engine.solve(prob or problem(), strat))


def samples(answers: Sequence[str | None], *, stream: str = "main", tokens: Sequence[int] | None = None,
            logprobs: Sequence[float | None] | None = None, sc: Sequence[float | None] | None = None,
            texts: Sequence[str] | None = None) -> list[Sample]:
    """Hand-made samples for pinning a decision rule without any engine."""
    out = []
    for i, a in enumerate(answers):
        text = texts[i] if texts else (f"The answer is {a}" if a is not None else "no idea")
        out.append(Sample(problem_id="p1", index=i, stream=stream, text=text, answer=a,
                          usage={"completion_tokens": tokens[i] if tokens else 10},
                          logprob_mean=logprobs[i] if logprobs else None,
                          self_certainty_mean=sc[i] if sc else None))
    return out


__all__ = ["AnswerTask", "ScriptedVerifier", "problem", "solve", "replay", "samples", "MockBackend"]
