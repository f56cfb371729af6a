"""Replay simulation: evaluate any registered strategy on a stored bank, fast.

Two evaluators, both driven by the strategies' own code or by an exact closed form of it:

- :func:`replay_one` — a lean synchronous copy of :meth:`ttscale.engine.Engine.solve`
  against a :class:`~ttscale.backends.replay.ReplaySource`: the same ``strategy.decide`` /
  ``finalize`` calls on the same views, the same budget clipping, the same seeded
  orderings, the same stored verdicts, but no asyncio, store or progress overhead. It
  returns exactly the Decision the engine would (``tests/analysis`` pins this), plus the
  compute a *live* run of the same decisions would have paid (:class:`TokenCounts`).
- :func:`closed_form_curve` — exact expectations over uniformly random k-subsets for the
  strategies that have one (``sc``, ``single``, ``bon`` with a per-sample scorer), for every
  budget at once (:mod:`ttscale.analysis.estimators`).

Prompt accounting in replay: a replayed permutation scrambles which stored sample carried
the fresh prompt tokens, so the simulated cost charges what a live run pays — one fresh
prefill of the problem's prompt per draw round (the first generation of a backend call),
the other samples' prompts as cached tokens — and a round's wall time is the slowest
sample in it (a round is one batched call). The returned Decision keeps the stored usage,
as the engine does.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends.replay import ReplaySource, pick_stream
from ..config import Budget, SamplingConfig
from ..engine import MAX_ACTIONS, stream_name
from ..errors import ConfigError, StoreError, TTScaleError
from ..store import Store
from ..strategies.base import Done, Draw, Strategy, Verify, View
from ..tasks.base import Task
from ..types import Decision, Problem, Sample, Usage, Verdict
from .cost import TokenCounts
from .estimators import bon_at_k_curve, maj_at_k_curve

__all__ = ["BankData", "ProblemContext", "Outcome", "replay_one", "budget_param", "strategy_at",
           "closed_form_curve", "has_closed_form", "ProblemStats", "orderings", "REPLAYABLE_KINDS"]

#: strategy kinds whose every draw comes from the problem's own sample streams
REPLAYABLE_KINDS = ("vote", "select", "adaptive")


@dataclass
class BankData:
    """A bank ready for simulation: the graded problems that have samples, the samples
    (problem → stream → samples in index order), stored verdicts and the task that reads
    and grades the answers."""

    task: Task
    problems: list[Problem]
    bank: dict[str, dict[str, list[Sample]]]
    verdicts: list[Verdict] = field(default_factory=list)
    model: str = ""
    source: str = ""
    skipped: int = 0  # problems without reference answers or samples

    @classmethod
    def from_samples(cls, task: Task, problems: Sequence[Problem], bank: dict[str, dict[str, list[Sample]]],
                     verdicts: Sequence[Verdict] = (), *, model: str = "", source: str = "") -> BankData:
        keep = [p for p in problems if p.answers and pick_stream(bank.get(p.id, {}), "main")]
        return cls(task=task, problems=keep, bank=bank, verdicts=list(verdicts),
                   model=model or _first_model(bank), source=source, skipped=len(problems) - len(keep))

    @classmethod
    def load(cls, run_dir: str | Path, task: Task | None = None) -> BankData:
        """Read a run directory (or bank directory): problems, samples, verdicts, and the
        task named in its ``config.json``."""
        path = Path(run_dir)
        with Store(path, readonly=True) as store:
            problems = store.problems()
            bank = store.bank()
            verdicts = store.verdicts()
        if not bank:
            raise StoreError(f"{path} holds no samples; draw some first (ttscale sweep --task ... -n N)")
        model = ""
        cfg_path = path / "config.json"
        if cfg_path.exists():
            import json
            try:
                cfg = json.loads(cfg_path.read_text())
                model = cfg.get("model_id") or cfg.get("config", {}).get("model") or ""
            except json.JSONDecodeError:
                pass
        if task is None:
            from ..banks import bank_task
            from ..runner import make_task
            name, options = bank_task(path)
            task = make_task(name, **options)
        return cls.from_samples(task, problems, bank, verdicts, model=model, source=str(path))

    @property
    def max_samples(self) -> int:
        return max((len(pick_stream(self.bank[p.id], "main")) for p in self.problems), default=0)


def _first_model(bank: dict[str, dict[str, list[Sample]]]) -> str:
    for streams in bank.values():
        for samples in streams.values():
            for s in samples:
                if s.model:
                    return s.model
    return ""


def orderings(data: BankData, count: int, seed: int) -> list[ReplaySource]:
    """One replay source per seeded ordering (shared by every strategy and budget)."""
    if count < 1:
        raise ConfigError("orderings", f"must be >= 1 (got {count})")
    return [ReplaySource(data.bank, data.verdicts, ordering=o, seed=seed) for o in range(count)]


class ProblemContext:
    """Per-problem state shared by every replay of that problem: the task's equivalence
    test memoised (``same`` is pure, and math equivalence is expensive), grading memoised,
    prompt lengths per stream, verifier objects."""

    def __init__(self, task: Task, problem: Problem, bank: dict[str, dict[str, list[Sample]]],
                 verifiers: dict[str, Any] | None = None, sampling: SamplingConfig | None = None) -> None:
        self.task = task
        self.problem = problem
        self.streams = bank.get(problem.id, {})
        self.verifiers = verifiers if verifiers is not None else {}
        self.sampling = task.sampling(sampling)
        self._correct: dict[str | None, bool | None] = {}
        self._prompt_len: dict[str, int] = {}
        if type(task).same is Task.same:
            self.same: Callable[[str, str], bool] = task.same
        else:
            memo: dict[tuple[str, str], bool] = {}

            def same(a: str, b: str) -> bool:
                key = (a, b)
                if key not in memo:
                    memo[key] = task.same(a, b)
                return memo[key]
            self.same = same
        self.extract: Callable[[str], str | None] = lambda text: task.extract(text, problem)

    def is_correct(self, answer: str | None) -> bool | None:
        if answer not in self._correct:
            self._correct[answer] = self.task.is_correct(answer, self.problem)
        return self._correct[answer]

    def prompt_len(self, stream: str) -> int:
        """Prompt tokens of one call on ``stream`` (every stored sample carries them, as
        fresh or cached tokens)."""
        if stream not in self._prompt_len:
            samples = pick_stream(self.streams, stream)
            self._prompt_len[stream] = max(
                (s.usage.prompt_tokens + s.usage.cached_prompt_tokens for s in samples), default=0)
        return self._prompt_len[stream]

    def verifier(self, name: str) -> Any:
        if name not in self.verifiers:
            from ..registry import verifiers
            self.verifiers[name] = verifiers.create(name, task=self.task)
        return self.verifiers[name]


@dataclass(slots=True)
class Outcome:
    """One replayed decision, kept light (a Decision is built only when stored or compared)."""

    problem_id: str
    ordering: int | None
    answer: str | None
    confidence: float
    votes: dict[str, float]
    sample_index: int | None
    text: str | None
    samples_used: int
    verifier_calls: int
    usage: tuple[int, int, int, float, float]  # prompt, completion, cached, wall_time, cost
    correct: bool | None
    cost: TokenCounts

    def decision(self, strategy: Strategy, params: dict[str, Any] | None = None) -> Decision:
        p, c, cached, wall, money = self.usage
        return Decision(problem_id=self.problem_id, strategy=strategy.name,
                        params=strategy.param_dict if params is None else params, answer=self.answer,
                        confidence=self.confidence, samples_used=self.samples_used,
                        verifier_calls=self.verifier_calls,
                        usage=Usage(prompt_tokens=p, completion_tokens=c, cached_prompt_tokens=cached,
                                    wall_time=wall, cost=money),
                        correct=self.correct, votes=self.votes, sample_index=self.sample_index,
                        text=self.text, ordering=self.ordering)


def replay_one(ctx: ProblemContext, strategy: Strategy, source: ReplaySource, budget: Budget,
               ordering: int | None = None, *, store: Store | None = None) -> Outcome:
    """Run ``strategy`` on one problem against ``source`` — :meth:`Engine.solve`'s loop,
    synchronously. Verdicts missing from the bank are computed by the verifier (and put in
    ``store``) exactly as the engine would."""
    problem = ctx.problem
    samples: list[Sample] = []
    verdicts: dict[tuple[str, int, str], Verdict] = {}
    cursors: dict[str, int] = {}
    max_samples, max_tokens = budget.max_samples, budget.max_tokens
    used_tokens = 0
    exhausted = False
    v_calls = 0
    vp = vc = vcached = 0
    vwall = vmoney = 0.0
    fresh = 0  # fresh prompt tokens a live run pays: one prefill per draw round
    wall = 0.0
    done: Done | None = None
    for _ in range(MAX_ACTIONS):
        view = View(samples=samples, verdicts=verdicts, same=ctx.same,
                    remaining_samples=None if max_samples is None else max_samples - len(samples),
                    remaining_tokens=None if max_tokens is None else max_tokens - used_tokens,
                    prompt=problem.prompt, extract=ctx.extract)
        action = strategy.finalize(view) if exhausted else strategy.decide(view)
        if isinstance(action, Done):
            done = action
            break
        if isinstance(action, Draw):
            n = action.n
            if view.remaining_samples is not None:
                n = min(n, view.remaining_samples)
            if view.remaining_tokens is not None and view.remaining_tokens <= 0:
                n = 0
            if n <= 0:
                exhausted = True
                continue
            stream = stream_name(action)
            if action.overrides:  # the engine validates them through the sampling config
                ctx.sampling.with_overrides(action.overrides)
            start = cursors.get(stream, 0)
            new = source.ordered(problem.id, stream)[start:start + n]
            cursors[stream] = start + len(new)
            if new:
                samples.extend(new)
                used_tokens += sum(s.usage.completion_tokens for s in new)
                fresh += ctx.prompt_len(stream)
                wall += max(s.latency for s in new)
            if len(new) < n:
                exhausted = True
        elif isinstance(action, Verify):
            stream = action.stream or "main"
            wanted = set(action.indices)
            targets = [s for s in samples if s.stream == stream and s.index in wanted
                       and (s.stream, s.index, action.verifier) not in verdicts]
            if not targets:
                continue
            found: list[Verdict] = []
            todo: list[Sample] = []
            for s in targets:
                stored = source.stored_verdict(s, action.verifier)
                (found.append(stored) if stored else todo.append(s))
            if todo:
                new_v = asyncio.run(ctx.verifier(action.verifier).score(problem, todo, backend=None))
                if store is not None:
                    store.put_verdicts(new_v)
                found.extend(new_v)
            for v in found:
                verdicts[(v.stream, v.sample_index, v.verifier)] = v
                u = v.usage
                vp += u.prompt_tokens
                vc += u.completion_tokens
                vcached += u.cached_prompt_tokens
                vwall += u.wall_time
                vmoney += u.cost
                v_calls += 1
        else:
            raise TTScaleError(f"strategy {strategy.name!r} returned {action!r}, not an action")
    else:
        raise TTScaleError(f"strategy {strategy.name!r} did not finish within {MAX_ACTIONS} actions")

    sp = sc = scached = 0
    swall = smoney = 0.0
    prompt_side = 0
    for s in samples:
        u = s.usage
        sp += u.prompt_tokens
        sc += u.completion_tokens
        scached += u.cached_prompt_tokens
        swall += u.wall_time
        smoney += u.cost
        prompt_side += ctx.prompt_len(s.stream)
    cost = TokenCounts(samples=len(samples), prompt=fresh + vp, cached=prompt_side - fresh + vcached,
                       completion=sc + vc, wall_time=wall + vwall)
    return Outcome(problem_id=problem.id, ordering=ordering, answer=done.answer, confidence=done.confidence,
                   votes=done.votes, sample_index=done.sample_index, text=done.text,
                   samples_used=len(samples), verifier_calls=v_calls,
                   usage=(sp + vp, sc + vc, scached + vcached, swall + vwall, smoney + vmoney),
                   correct=ctx.is_correct(done.answer), cost=cost)


# --- budgets ---------------------------------------------------------------------------------

def budget_param(strategy_cls: type[Strategy]) -> str | None:
    """The parameter a budget sets: ``n`` (the sample count of vote/select strategies),
    else ``max_samples`` (the cap of adaptive ones); None when the strategy has neither
    (``greedy``, ``single``: evaluated once, at their own sample count)."""
    fields = strategy_cls.Params.model_fields
    if "n" in fields:
        return "n"
    if "max_samples" in fields:
        return "max_samples"
    return None


def strategy_at(name: str, params: dict[str, Any], budget: int | None) -> tuple[Strategy, int]:
    """The strategy instance for one budget, and the budget it really runs at."""
    from ..registry import strategies
    cls = strategies.get(name)
    if getattr(cls, "kind", None) not in REPLAYABLE_KINDS:
        raise ConfigError("strategy", f"{name!r} is a {getattr(cls, 'kind', '?')} strategy: it writes new "
                          "prompts (aggregation/refinement) that a stored bank cannot answer without "
                          f"model calls; replay supports kinds {', '.join(REPLAYABLE_KINDS)}")
    key = budget_param(cls)
    if key is not None and key in params:
        raise ConfigError(f"{name}.{key}", f"set by --budgets in a sweep; remove {key}= from the strategy")
    if key is None or budget is None:
        strat = cls(**params)
        return strat, int(strat.max_samples or 1)
    return cls(**{**params, key: budget}), budget


# --- closed forms ----------------------------------------------------------------------------

@dataclass
class ProblemStats:
    """Per-problem summary of the main stream for closed forms: answer classes (by the
    task's equivalence, first-seen representative in index order) and per-sample costs."""

    samples: list[Sample]
    classes: list[int]  # class id per sample, −1 = no answer
    counts: list[int]
    class_correct: list[bool]
    none: int
    prompt_len: int
    completion: list[int]
    _walls: dict[tuple[int, ...], list[float]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, ctx: ProblemContext) -> ProblemStats:
        samples = sorted(pick_stream(ctx.streams, "main"), key=lambda s: s.index)
        reps: list[str] = []
        ids: list[int] = []
        for s in samples:
            if s.answer is None:
                ids.append(-1)
                continue
            for i, rep in enumerate(reps):
                if s.answer == rep or ctx.same(s.answer, rep):
                    ids.append(i)
                    break
            else:
                reps.append(s.answer)
                ids.append(len(reps) - 1)
        counts = [ids.count(i) for i in range(len(reps))]
        correct = [bool(ctx.is_correct(r)) for r in reps]
        return cls(samples=samples, classes=ids, counts=counts, class_correct=correct,
                   none=ids.count(-1), prompt_len=ctx.prompt_len("main"),
                   completion=[s.usage.completion_tokens for s in samples])

    @property
    def n(self) -> int:
        return len(self.samples)

    def expected_wall(self, ks: list[int]) -> list[float]:
        """E[wall time of one batch of k] = E[slowest of a random k-subset] (memoised)."""
        key = tuple(ks)
        if key not in self._walls:
            lat = [s.latency for s in self.samples]
            self._walls[key] = bon_at_k_curve(lat, lat, ks)
        return self._walls[key]


def _signal(sample: Sample, scorer: str, verdicts: dict[tuple[str, str, int, str], Verdict]) -> float | None:
    if scorer == "logprob":
        return None if sample.logprob_mean is None else math.exp(sample.logprob_mean)
    if scorer == "self_certainty":
        return sample.self_certainty_mean
    if scorer == "brevity":
        return 1.0 / (1.0 + sample.usage.completion_tokens / 100.0)
    v = verdicts.get((sample.problem_id, sample.stream, sample.index, scorer))
    if v is not None and v.score is not None:
        return float(v.score)
    return sample.scores.get(scorer)


def has_closed_form(strategy: Strategy) -> bool:
    """Whether :func:`closed_form_curve` may evaluate this strategy (it may still decline
    a particular bank, e.g. when some samples lack the scorer's signal)."""
    if strategy.name in ("sc", "single"):
        return True
    if strategy.name == "bon":
        from ..strategies.signals import scorer_parts
        return len(scorer_parts(strategy.params.scorer)) == 1  # type: ignore[attr-defined]
    return False


def closed_form_curve(strategy: Strategy, stats: ProblemStats, ks: list[int],
                      verdicts: dict[tuple[str, str, int, str], Verdict]) -> list[tuple[float, TokenCounts]] | None:
    """Exact (expected accuracy, expected compute) of ``strategy`` at each sample count k,
    or None when this strategy/bank has no closed form (the caller replays instead).

    - ``sc``/``single``: maj@k over the task's answer classes, ties split — what majority
      vote with first-drawn tie-breaking gives in expectation over random orderings.
    - ``bon`` with one per-sample scorer: BoN@k with the strategy's rule (majority among
      the tied top-scored answered samples); declines when an answered sample lacks the
      signal, because the strategy then fills it with the subset's mean."""
    n = stats.n
    if n == 0:
        return None
    keff = [min(k, n) for k in ks]
    verifier_cost = [TokenCounts() for _ in ks]
    if strategy.name in ("sc", "single"):
        if stats.counts and any(stats.class_correct):
            acc = maj_at_k_curve(stats.counts, stats.class_correct, keff, stats.none)
        else:
            acc = [0.0] * len(ks)
    elif strategy.name == "bon":
        scorer = strategy.params.scorer  # type: ignore[attr-defined]
        sig = [_signal(s, scorer, verdicts) for s in stats.samples]
        answered = [i for i, c in enumerate(stats.classes) if c >= 0]
        if any(sig[i] is None for i in answered):
            if all(sig[i] is None for i in answered):
                sig = [1.0] * n  # no sample carries the signal: every answered one ties
            else:
                return None
        scores = [float(sig[i]) if c >= 0 else -math.inf  # type: ignore[arg-type]
                  for i, c in enumerate(stats.classes)]
        labels = [None if c < 0 else str(c) for c in stats.classes]
        correct = [c >= 0 and stats.class_correct[c] for c in stats.classes]
        acc = bon_at_k_curve(scores, correct, keff, answers=labels)
        from ..strategies.signals import verifier_parts
        if verifier_parts(scorer):
            # every drawn sample is verified once (stored verdicts carry their cost)
            per = [verdicts.get((s.problem_id, s.stream, s.index, scorer)) for s in stats.samples]
            mean_tc = TokenCounts(
                prompt=sum(v.usage.prompt_tokens for v in per if v) / n,
                cached=sum(v.usage.cached_prompt_tokens for v in per if v) / n,
                completion=sum(v.usage.completion_tokens for v in per if v) / n,
                wall_time=sum(v.usage.wall_time for v in per if v) / n)
            verifier_cost = [mean_tc.scaled(k) for k in keff]
    else:
        return None
    mean_completion = sum(stats.completion) / n
    walls = stats.expected_wall(keff)
    out = []
    for a, k, w, vcost in zip(acc, keff, walls, verifier_cost, strict=True):
        tc = TokenCounts(samples=k, prompt=stats.prompt_len, cached=(k - 1) * stats.prompt_len,
                         completion=k * mean_completion, wall_time=w)
        out.append((a, tc + vcost))
    return out
