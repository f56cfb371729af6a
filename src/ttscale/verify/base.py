"""The verifier interface the engine calls, and the reference-answer verifiers.

A verifier is created by ``ttscale.registry.verifiers.create(name, task=task, **opts)``
and scores samples of one problem::

    async def score(problem, samples, backend=None) -> list[Verdict]

one Verdict per sample, in order: ``score`` in [0, 1] (and/or a ``label``), ``usage`` for
whatever the verification itself cost (a judge's tokens), ``raw`` for what it saw (a judge's
text, a test log). ``backend`` is the run's backend; LLM verifiers use it as judge unless
they were given their own.

The reference verifiers here (``oracle``, ``math``, ``choice``, ``text``) need
``problem.answers``: they grade, they do not discover — use them for analysis and for
measuring other verifiers, never as a test-time signal that would leak the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

from ..types import Problem, Sample, Usage, Verdict
from .grade import grade

__all__ = ["Verifier", "ReferenceVerifier", "OracleVerifier", "MathVerifier", "ChoiceVerifier", "TextVerifier"]


class Verifier:
    """Base class: holds the task and options; subclasses implement :meth:`score`."""

    name: ClassVar[str] = "verifier"

    def __init__(self, task: Any = None, **options: Any) -> None:
        self.task = task
        self.options = options

    async def score(self, problem: Problem, samples: Sequence[Sample], backend: Any = None) -> list[Verdict]:
        raise NotImplementedError

    def verdict(self, sample: Sample, *, score: float | None = None, label: str | None = None,
                usage: Usage | None = None, raw: str = "") -> Verdict:
        """A Verdict for ``sample`` under this verifier's name (score clipped to [0, 1])."""
        if score is not None:
            score = min(1.0, max(0.0, float(score)))
        return Verdict(problem_id=sample.problem_id, sample_index=sample.index, stream=sample.stream,
                       verifier=self.name, score=score, label=label, usage=usage or Usage(), raw=raw)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options)}


class ReferenceVerifier(Verifier):
    """Grades each sample's text against ``problem.answers`` with one answer type."""

    answer_type: ClassVar[str | None] = None  # None: the problem's own answer_type

    def _type(self, problem: Problem) -> str:
        return self.answer_type or problem.answer_type

    def _grade_one(self, problem: Problem, sample: Sample) -> Verdict:
        if not problem.answers:
            return self.verdict(sample, label="no_reference", raw="problem has no reference answer")
        g = grade(sample.text, problem.answers, self._type(problem),
                  options=problem.metadata.get("options"), tests=problem.metadata.get("tests"),
                  entry_point=problem.metadata.get("entry_point"), prompt=problem.prompt)
        return self.verdict(sample, score=1.0 if g.correct else 0.0,
                            label="correct" if g.correct else ("no_answer" if g.answer is None else "incorrect"),
                            raw=g.reason)

    async def score(self, problem: Problem, samples: Sequence[Sample], backend: Any = None) -> list[Verdict]:
        # grading may block on a math worker or a sandboxed program: keep the event loop free
        return await asyncio.to_thread(lambda: [self._grade_one(problem, s) for s in samples])


class OracleVerifier(ReferenceVerifier):
    """Ground truth for analysis: the task's own ``is_correct`` on the sample's extracted
    answer when a task is given (so it agrees with Decision.correct), else the grader for
    the problem's answer type."""

    name = "oracle"

    def _grade_one(self, problem: Problem, sample: Sample) -> Verdict:
        if self.task is not None and problem.answers:
            answer = sample.answer if sample.answer is not None else self.task.extract(sample.text, problem)
            ok = self.task.is_correct(answer, problem)
            if ok is not None:
                return self.verdict(sample, score=1.0 if ok else 0.0,
                                    label="correct" if ok else ("no_answer" if answer is None else "incorrect"),
                                    raw=f"answer {answer!r} vs reference {problem.answers[:3]!r}")
        return super()._grade_one(problem, sample)


class MathVerifier(ReferenceVerifier):
    name = "math"
    answer_type = "math"


class ChoiceVerifier(ReferenceVerifier):
    name = "choice"
    answer_type = "choice"


class TextVerifier(ReferenceVerifier):
    name = "text"
    answer_type = "text"
