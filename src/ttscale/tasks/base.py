"""The Task interface: problems, how their prompts look, how answers are read and judged.

A task owns answer extraction (``extract``), equivalence (``same``, used to merge votes)
and grading (``is_correct``), so strategies and estimators never guess at answer formats.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..config import SamplingConfig
from ..types import Problem

__all__ = ["Task"]


class Task:
    """Base class. Subclasses set ``name``/``answer_type`` and implement ``load`` and
    ``extract``; ``same`` defaults to string equality of extracted (canonical) answers."""

    name: ClassVar[str] = ""
    answer_type: ClassVar[str] = "text"
    #: sampling defaults that fit the task (e.g. short answers stop at a newline)
    sampling_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any) -> None:
        self.options = options

    def load(self) -> list[Problem]:
        raise NotImplementedError

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        """The canonical answer in ``text``, or None. Must never raise on model output."""
        raise NotImplementedError

    def same(self, a: str, b: str) -> bool:
        return a == b

    def is_correct(self, answer: str | None, problem: Problem) -> bool | None:
        """None when the problem has no reference answer."""
        if not problem.answers:
            return None
        if answer is None:
            return False
        return any(self.same(answer, ref) for ref in self.reference_answers(problem))

    def reference_answers(self, problem: Problem) -> list[str]:
        """References in canonical form (extracted the same way as model answers)."""
        out = []
        for ref in problem.answers:
            canon = self.canonicalize(ref)
            if canon is not None:
                out.append(canon)
        return out

    def canonicalize(self, answer: str) -> str | None:
        """Canonical form of a bare reference answer: extraction when it finds one (so a
        reference is normalised exactly like model output), else the stripped text."""
        return self.extract(answer) or answer.strip() or None

    def sampling(self, base: SamplingConfig | None = None, **overrides: Any) -> SamplingConfig:
        """The task's defaults (e.g. stop at a newline) under what the user set explicitly:
        a field in ``base.model_fields_set`` (``--max-tokens 16``) wins over the default."""
        base = base or SamplingConfig()
        defaults = {k: v for k, v in self.sampling_defaults.items() if k not in base.model_fields_set}
        return base.with_overrides({**defaults, **overrides})


class AnswerTask(Task):
    """A task whose answers are read and compared by *answer type* (math, choice, text,
    code), through :mod:`ttscale.verify`: extraction by ``extract_answer``, math
    equivalence by ``math_equal`` (so ``1/2`` and ``0.5`` vote together), canonical
    equality otherwise. Loaders and task files build on this instead of re-implementing
    answer handling; ``skipped`` lists the malformed rows a loader skipped."""

    def __init__(self, answer_type: str = "text", **options: Any) -> None:
        from ..verify.extract import ANSWER_TYPES
        if answer_type not in ANSWER_TYPES:
            from ..errors import ConfigError
            raise ConfigError("answer_type", f"unknown answer type {answer_type!r}; choose one of "
                              f"{', '.join(ANSWER_TYPES)}")
        super().__init__(**options)
        self.answer_type = answer_type  # type: ignore[misc]  # per instance here
        self.skipped: list[Any] = []

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        from ..verify.extract import extract_answer
        return extract_answer(text, self.answer_type)

    def canonicalize(self, answer: str) -> str | None:
        from ..verify.extract import canonicalize
        return canonicalize(answer, self.answer_type)

    def same(self, a: str, b: str) -> bool:
        if a == b:
            return True
        if self.answer_type == "math":
            from ..verify.math import math_equal
            return bool(math_equal(a, b))
        if self.answer_type == "choice":
            from ..verify.choice import choice_equal
            return choice_equal(a, b)
        if self.answer_type == "text":
            from ..verify.choice import text_equal
            return text_equal(a, b)
        return False
