"""A stored sample bank used as a sample source.

Replay lets every strategy be evaluated at any budget from one bank of N_max samples per
problem without model calls. ``ordering=None`` serves samples in index order, which
reproduces a live run exactly (the live run drew them in that order); an integer ordering
serves a seeded permutation, so estimators can average over random orderings.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from ..config import SamplingConfig, derive_seed
from ..types import Problem, Prompt, Sample, Verdict

__all__ = ["ReplaySource", "pick_stream"]


def pick_stream(streams: Mapping[str, list[Sample]], wanted: str) -> list[Sample]:
    """The stream asked for. A bank imported or drawn under another name serves the problem's
    own stream (``main``) from its largest stream. Empty when there is nothing to serve."""
    if wanted in streams:
        return streams[wanted]
    if wanted != "main":
        # never pass ordinary samples off as greedy ones, a strong model's, or answers to an
        # aggregation/refinement prompt: those streams replay only when they were stored
        return []
    if "main" in streams:
        return streams["main"]
    return max(streams.values(), key=len) if streams else []


class ReplaySource:
    """Serves stored samples (and verdicts) instead of calling a backend."""

    replay = True

    def __init__(self, bank: Mapping[str, Mapping[str, list[Sample]]],
                 verdicts: list[Verdict] | None = None, *, ordering: int | None = None,
                 seed: int = 0) -> None:
        self.bank = bank
        self.ordering = ordering
        self.seed = seed
        self.verdicts: dict[tuple[str, str, int, str], Verdict] = {
            (v.problem_id, v.stream, v.sample_index, v.verifier): v for v in (verdicts or [])}
        self._perm: dict[tuple[str, str], list[Sample]] = {}
        self._alias: dict[tuple[str, str], str] = {}

    def _ordered(self, problem_id: str, stream: str) -> list[Sample]:
        key = (problem_id, stream)
        if key not in self._perm:
            samples = sorted(pick_stream(self.bank.get(problem_id, {}), stream), key=lambda s: s.index)
            if samples and samples[0].stream != stream:
                # a fallback stream is served under the name asked for, so strategies find it
                # in view.stream(); stored verdicts are looked up under the original name
                self._alias[(problem_id, stream)] = samples[0].stream
                samples = [x.model_copy(update={"stream": stream}) for x in samples]
            if self.ordering is not None:
                samples = samples[:]
                random.Random(derive_seed(self.seed, problem_id, stream, self.ordering)).shuffle(samples)
            self._perm[key] = samples
        return self._perm[key]

    def ordered(self, problem_id: str, stream: str) -> list[Sample]:
        """Every sample of the stream in this source's order (what successive draws serve);
        the simulator in :mod:`ttscale.analysis.simulate` reads it directly."""
        return self._ordered(problem_id, stream)

    def available(self, problem_id: str, stream: str) -> int:
        return len(self._ordered(problem_id, stream))

    async def draw(self, problem: Problem, stream: str, prompt: Prompt, config: SamplingConfig,
                   start: int, n: int) -> list[Sample]:
        """Up to ``n`` samples from position ``start``; fewer when the bank runs out."""
        return self._ordered(problem.id, stream)[start:start + n]

    def stored_verdict(self, sample: Sample, verifier: str) -> Verdict | None:
        stream = self._alias.get((sample.problem_id, sample.stream), sample.stream)
        return self.verdicts.get((sample.problem_id, stream, sample.index, verifier))
