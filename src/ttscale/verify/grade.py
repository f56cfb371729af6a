"""Grade one response against reference answers: extract, canonicalise, compare.

This is what ``ttscale verify`` prints and what the reference verifiers score with, so a
user checking their own outputs on the command line sees exactly the grading a run uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .choice import choice_equal, text_equal
from .extract import canonicalize, extract_boxed, extract_raw

__all__ = ["Grade", "grade", "reference_form"]


@dataclass(frozen=True)
class Grade:
    """``answer`` as extracted (None when nothing was found), its ``canonical`` form,
    whether it is ``correct``, and a human-readable ``reason``."""

    answer: str | None
    canonical: str | None
    correct: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def reference_form(gold: str, answer_type: str) -> str:
    """A reference answer ready to compare: a full reference solution is reduced to its
    boxed answer; a bare answer is used as is."""
    if answer_type != "code" and ("\\boxed" in gold or "\\fbox" in gold):
        return extract_boxed(gold) or gold
    return gold


def grade(text: str | None, gold: str | Sequence[str], answer_type: str, *,
          options: Mapping[str, str] | None = None, tests: str | None = None,
          entry_point: str | None = None, prompt: Any = None, timeout: float = 5.0) -> Grade:
    """Grade ``text`` against ``gold`` (one reference or several accepted ones; for text,
    further entries are aliases; for code, ``gold``/``tests`` is test code)."""
    golds = [gold] if isinstance(gold, str) else [str(g) for g in gold]
    if answer_type == "code":
        from .code import grade_code
        return grade_code(text or "", tests if tests is not None else golds[0],
                          entry_point=entry_point, prompt=prompt, timeout=timeout)
    raw = extract_raw(text or "", answer_type)
    canon = canonicalize(raw, answer_type)
    if raw is None or canon is None:
        return Grade(raw, None, False, "no answer extracted")
    refs = [reference_form(g, answer_type) for g in golds if g is not None and str(g).strip()]
    if not refs:
        return Grade(raw, canon, False, "no reference answer")
    if answer_type == "math":
        from .math import default_checker
        results = default_checker().check_many([(raw, r) for r in refs], timeout)
        for r, (ok, why) in zip(refs, results, strict=True):
            if ok:
                return Grade(raw, canon, True, f"equal to {r!r} ({why})")
        return Grade(raw, canon, False, f"not equal to {', '.join(map(repr, refs))} ({results[0][1]})")
    if answer_type == "choice":
        for r in refs:
            if choice_equal(raw, r, options):
                return Grade(raw, canon, True, f"picks option {canonicalize(r, 'choice') or r!r}")
        return Grade(raw, canon, False, f"picks {canon}, reference {', '.join(refs)}")
    if text_equal(raw, refs[0], refs[1:]):
        return Grade(raw, canon, True, "matches reference after normalisation")
    return Grade(raw, canon, False, f"{canon!r} does not match {', '.join(map(repr, refs))}")
