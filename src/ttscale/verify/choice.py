"""Multiple-choice and short-text answers: normalised exact match, with aliases.

A choice answer is one option letter; it also matches when the model wrote the *text* of
the right option instead of its letter (``options`` maps letters to option texts). A text
answer matches a reference or any of its aliases after :func:`canonical_text`
normalisation (case, accents, punctuation, a leading article).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .extract import canonical_choice, canonical_text

__all__ = ["choice_equal", "text_equal"]


def choice_equal(answer: str | None, reference: str | None,
                 options: Mapping[str, str] | None = None) -> bool:
    """Whether ``answer`` picks the option ``reference`` names. Both may be spelled any
    common way (``"(B)"``, ``"B)"``, ``"b"``, ``"\\text{B}"``); with ``options`` (letter →
    option text) an answer that quotes the option text counts too."""
    if answer is None or reference is None:
        return False
    ref = canonical_choice(reference)
    if ref is None and options:
        ref = _letter_of(reference, options)
    if ref is None:
        return False
    got = canonical_choice(answer)
    if got is None and options:
        got = _letter_of(answer, options)
    return got == ref


def _letter_of(text: str, options: Mapping[str, str]) -> str | None:
    t = canonical_text(text)
    for letter, body in options.items():
        if t is not None and t == canonical_text(body):
            return letter.strip().upper()
    return None


def text_equal(answer: str | None, reference: str | None, aliases: Iterable[str] = ()) -> bool:
    """Normalised exact match of ``answer`` against ``reference`` or any alias."""
    got = canonical_text(answer)
    if got is None:
        return False
    return any(got == canonical_text(r) for r in (reference, *aliases) if r is not None)
