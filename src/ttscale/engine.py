"""The single orchestration loop: strategies decide, the engine executes.

For each problem the engine repeatedly shows the strategy a :class:`View` of the samples
drawn so far and executes its action — drawing from a *source* (live: store first, then
the backend; replay: a stored bank), running verifiers, or finishing with a Decision. Many
problems run concurrently under one semaphore; budgets cap samples and tokens per problem
and per run; every sample is committed to the store the moment it exists, which is what
makes killed runs resumable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .config import Budget, SamplingConfig, derive_seed, stable_hash
from .errors import StoreError, TTScaleError
from .store import Store
from .strategies.base import Done, Draw, Strategy, Verify, View
from .tasks.base import Task
from .types import Decision, Problem, Prompt, Sample, Usage, Verdict

__all__ = ["Engine", "LiveSource", "Source", "RunStats", "stream_name"]

MAX_ACTIONS = 10_000  # a strategy that never finishes is a bug; fail loudly


class Source(Protocol):
    replay: bool

    async def draw(self, problem: Problem, stream: str, prompt: Prompt, config: SamplingConfig,
                   start: int, n: int) -> list[Sample]: ...


def stream_name(draw: Draw) -> str:
    """Samples drawn with the problem's prompt and the run's settings form stream ``main``;
    greedy draws form ``greedy``; anything else gets a stream named by what changed."""
    if draw.stream:
        return draw.stream
    if draw.prompt is None and not draw.overrides:
        return "main"
    if draw.prompt is None and draw.overrides == {"temperature": 0.0}:
        return "greedy"
    return "x-" + stable_hash([draw.prompt, draw.overrides], 10)


@dataclass
class RunStats:
    """Live counters for the progress bar and the run-level budget."""

    samples: int = 0
    tokens: int = 0
    generated: int = 0  # samples that came from the backend, not the store
    started: float = field(default_factory=time.monotonic)


class LiveSource:
    """Store first, backend for what is missing. Seeds derive from (run seed, problem,
    stream, first index), so a rerun asks the backend exactly what the first run asked."""

    replay = False

    def __init__(self, backend: Any, store: Store | None, task: Task, *, seed: int = 0,
                 stats: RunStats | None = None, on_sample: Callable[[Sample], None] | None = None) -> None:
        self.backend = backend
        self.store = store
        self.task = task
        self.seed = seed
        self.stats = stats or RunStats()
        self.on_sample = on_sample
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def draw(self, problem: Problem, stream: str, prompt: Prompt, config: SamplingConfig,
                   start: int, n: int) -> list[Sample]:
        key = (problem.id, stream)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # two strategies sharing a stream must not generate the same index twice
            wanted = range(start, start + n)
            have = self.store.get_samples(problem.id, stream) if self.store else {}
            chash = config.hash()
            for idx in wanted:
                if idx in have and have[idx].config_hash != chash:
                    raise StoreError(
                        f"problem {problem.id!r} stream {stream!r} sample {idx} in {self.store.path if self.store else ''} "
                        "was drawn with different sampling settings; use a new run directory")
            missing = [i for i in wanted if i not in have]
            if missing:
                first = missing[0]
                seed = derive_seed(self.seed, problem.id, stream, first)
                # a routing backend (cascade: cheap vs strong model) picks the model per stream
                backend = self.backend.for_stream(stream) if hasattr(self.backend, "for_stream") else self.backend
                gens = await backend.generate(prompt, len(missing), config, seed)
                new = [Sample.from_generation(g, problem_id=problem.id, index=idx, stream=stream,
                                              answer=self.task.extract(g.text, problem), config_hash=chash)
                       for idx, g in zip(missing, gens, strict=True)]
                if self.store:
                    self.store.put_samples(new)
                for s in new:
                    have[s.index] = s
                    self.stats.generated += 1
                    if self.on_sample:
                        self.on_sample(s)
            return [have[i] for i in wanted]


class Engine:
    """Runs strategies over problems against a source."""

    def __init__(self, task: Task, source: Any, *, store: Store | None = None,
                 sampling: SamplingConfig | None = None, budget: Budget | None = None,
                 concurrency: int = 4, verifiers: dict[str, Any] | None = None,
                 backend: Any = None, stats: RunStats | None = None) -> None:
        self.task = task
        self.source = source
        self.store = store
        self.sampling = task.sampling(sampling)
        self.budget = budget or Budget()
        self.concurrency = concurrency
        self.verifiers = verifiers or {}
        self.backend = backend
        self.stats = stats or getattr(source, "stats", None) or RunStats()

    def _verifier(self, name: str) -> Any:
        if name not in self.verifiers:
            from .registry import verifiers
            self.verifiers[name] = verifiers.create(name, task=self.task)
        return self.verifiers[name]

    async def solve(self, problem: Problem, strategy: Strategy, *, ordering: int | None = None) -> Decision:
        """Run one strategy on one problem to a Decision."""
        check = getattr(strategy, "check_task", None)  # e.g. a verifier the task cannot use
        if check is not None:
            check(self.task)
        samples: list[Sample] = []
        verdicts: dict[tuple[str, int, str], Verdict] = {}
        cursors: dict[str, int] = {}
        verifier_usage = Usage()
        verifier_calls = 0
        max_samples = self.budget.max_samples
        max_tokens = self.budget.max_tokens
        exhausted = False

        def view() -> View:
            used_tokens = sum(s.usage.completion_tokens for s in samples)
            return View(samples=samples, verdicts=verdicts, same=self.task.same,
                        remaining_samples=None if max_samples is None else max_samples - len(samples),
                        remaining_tokens=None if max_tokens is None else max_tokens - used_tokens,
                        prompt=problem.prompt, extract=lambda t: self.task.extract(t, problem))

        done: Done | None = None
        for _ in range(MAX_ACTIONS):
            v = view()
            action = strategy.finalize(v) if exhausted else strategy.decide(v)
            if isinstance(action, Done):
                done = action
                break
            if isinstance(action, Draw):
                n = action.n
                if v.remaining_samples is not None:
                    n = min(n, v.remaining_samples)
                config = self.sampling.with_overrides(action.overrides)
                if v.remaining_tokens is not None:
                    # worst case every sample uses max_tokens; the budget may be overshot by at
                    # most one sample's tokens, never by a whole batch
                    n = 0 if v.remaining_tokens <= 0 else min(n, max(1, v.remaining_tokens // config.max_tokens))
                if n <= 0:
                    exhausted = True
                    continue
                stream = stream_name(action)
                prompt = action.prompt if action.prompt is not None else problem.prompt
                start = cursors.get(stream, 0)
                new = await self.source.draw(problem, stream, prompt, config, start, n)
                cursors[stream] = start + len(new)
                samples.extend(new)
                self.stats.samples += len(new)
                self.stats.tokens += sum(s.usage.completion_tokens for s in new)
                if len(new) < n:  # a replay bank ran out
                    exhausted = True
            elif isinstance(action, Verify):
                verifier_calls, verifier_usage = await self._verify(
                    problem, action, samples, verdicts, verifier_calls, verifier_usage)
            else:
                raise TTScaleError(f"strategy {strategy.name!r} returned {action!r}, not an action")
        else:
            raise TTScaleError(f"strategy {strategy.name!r} did not finish within {MAX_ACTIONS} actions")

        usage = Usage.total([s.usage for s in samples]) + verifier_usage
        return Decision(problem_id=problem.id, strategy=strategy.name, params=strategy.param_dict,
                        answer=done.answer, confidence=done.confidence, samples_used=len(samples),
                        verifier_calls=verifier_calls, usage=usage,
                        correct=self.task.is_correct(done.answer, problem), votes=done.votes,
                        sample_index=done.sample_index, text=done.text, ordering=ordering)

    async def _verify(self, problem: Problem, action: Verify, samples: list[Sample],
                      verdicts: dict[tuple[str, int, str], Verdict], calls: int,
                      usage: Usage) -> tuple[int, Usage]:
        stream = action.stream or "main"
        targets = [s for s in samples if s.stream == stream and s.index in set(action.indices)
                   and (s.stream, s.index, action.verifier) not in verdicts]
        if not targets:
            return calls, usage
        found: list[Verdict] = []
        todo: list[Sample] = []
        for s in targets:
            stored = None
            if getattr(self.source, "replay", False):
                stored = self.source.stored_verdict(s, action.verifier)
            elif self.store is not None:
                stored = next((v for v in self.store.verdicts(problem.id)
                               if v.stream == s.stream and v.sample_index == s.index
                               and v.verifier == action.verifier), None)
            (found.append(stored) if stored else todo.append(s))
        if todo:
            new = await self._verifier(action.verifier).score(problem, todo, backend=self.backend)
            if self.store is not None:
                self.store.put_verdicts(new)
            found.extend(new)
        for v in found:
            verdicts[(v.stream, v.sample_index, v.verifier)] = v
            usage = usage + v.usage
            calls += 1
        return calls, usage

    async def run(self, problems: Sequence[Problem], strategy: Strategy, *, label: str | None = None,
                  progress: Any = None, ordering: int | None = None) -> list[Decision]:
        """Solve every problem (bounded concurrency, run budget); store decisions under ``label``."""
        sem = asyncio.Semaphore(self.concurrency)
        results: dict[str, Decision] = {}
        b = self.budget

        async def one(p: Problem) -> None:
            async with sem:
                if (b.run_max_samples is not None and self.stats.samples >= b.run_max_samples) or \
                   (b.run_max_tokens is not None and self.stats.tokens >= b.run_max_tokens):
                    return
                d = await self.solve(p, strategy, ordering=ordering)
                results[p.id] = d
                if self.store is not None and label:
                    self.store.put_decisions(label, [d])
                if progress is not None:
                    progress(d)

        tasks = [asyncio.create_task(one(p)) for p in problems]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            raise
        return [results[p.id] for p in problems if p.id in results]
