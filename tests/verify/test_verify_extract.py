"""Extraction and canonical forms: the spellings models actually use."""

from __future__ import annotations

import pytest

from ttscale.errors import ConfigError
from ttscale.verify.extract import (
    canonical_math,
    canonicalize,
    extract_answer,
    extract_boxed,
    extract_choice,
    extract_code,
    extract_raw,
)


@pytest.mark.parametrize("text,expected", [
    (r"so \boxed{\frac{1}{2}}.", r"\frac{1}{2}"),
    (r"\boxed{\{1, \{2\}\}}", r"\{1, \{2\}\}"),
    (r"first \boxed{1} then \boxed{2}" + "\nfinally \\boxed{3}", "3"),
    (r"x = \boxed{2}, y = \boxed{3}", "2, 3"),
    (r"\fbox{7}", "7"),
    (r"\boxed 5", "5"),
    (r"\boxed{unclosed", None),
    ("no box", None),
])
def test_extract_boxed(text: str, expected: str | None) -> None:
    assert extract_boxed(text) == expected


@pytest.mark.parametrize("raw,canon", [
    (r"\dfrac{1}{2}", r"\frac{1}{2}"),
    (r"\frac12", r"\frac{1}{2}"),
    (r"\frac1{23}", r"\frac{1}{23}"),
    (r"\frac{a}b", r"\frac{a}{b}"),
    ("1,000,000", "1000000"),
    ("(1,000, 2)", "(1,000,2)"),
    ("$42$", "42"),
    (r"\$5.00", "5"),
    (r"50\%", "50"),
    ("90°", "90"),
    (r"x = \frac{3}{2}", r"\frac{3}{2}"),
    ("y = 2x + 1", "y=2x+1"),
    (r"5\text{ cm}^2", "5"),
    ("12 apples", "12"),
    ("3.", "3"),
    ("+4", "4"),
    (".5", "0.5"),
    (r"\left( 1, 2 \right)", "(1,2)"),
    ("", None),
    (None, None),
])
def test_canonical_math(raw: str | None, canon: str | None) -> None:
    assert canonical_math(raw) == canon


@pytest.mark.parametrize("text,letter", [
    ("The answer is (B).", "B"),
    ("B) is right", "B"),
    ("answer: b", "B"),
    ("**C**", "C"),
    ("I pick option D.", "D"),
    (r"\boxed{\text{A}}", "A"),
    ("(A) is tempting but the answer is (C)", "C"),
    ("I cannot tell.", None),
    ("", None),
])
def test_extract_choice(text: str, letter: str | None) -> None:
    assert extract_choice(text) == letter
    assert extract_answer(text, "choice") == letter


def test_extract_code_prefers_last_python_block() -> None:
    text = "Try:\n```python\ndef f():\n    return 1\n```\nBetter:\n```py\ndef f():\n    return 2\n```\n"
    assert extract_code(text) == "def f():\n    return 2"
    assert extract_code("```\nprint(1)\n```") == "print(1)"
    assert extract_code("    return x + 1\n") == "    return x + 1"
    assert extract_code("No code here.") is None


def test_unknown_answer_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="answer_type"):
        extract_answer("x", "essay")


@pytest.mark.parametrize("text", [
    "\\boxed{" * 5000, "}" * 10000, "\\frac" * 3000, "$" * 5001, "\x00\x01\uffff", "a" * 300_000,
    "```" * 1000, "The answer is " * 2000,
])
@pytest.mark.parametrize("kind", ["math", "choice", "text", "code"])
def test_hostile_text_never_raises(text: str, kind: str) -> None:
    got = extract_answer(text, kind)
    assert got is None or isinstance(got, str)


def test_raw_and_canonical_are_separate_verbs() -> None:
    raw = extract_raw("Thus the total is $1{,}000$ dollars.", "math")
    assert raw is not None and canonicalize(raw, "math") == "1000"
    assert extract_answer(" The  Paris. ", "text") == "paris"
