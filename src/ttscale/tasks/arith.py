"""`arith`: procedurally generated arithmetic word problems with reliable gold answers.

Why a generator: fixed benchmarks run out and leak into training data; a generator gives
unlimited fresh problems whose labels are right by construction, and a difficulty knob to
place a model where test-time scaling matters (neither trivial nor hopeless).

Three separate parts, so each can be checked against the others:

- a *configuration generator* (:func:`generate`) that draws a start value and a chain of
  operations that keep every intermediate value a non-negative integer (subtractions never
  go below zero, divisions are exact, products stay bounded);
- a *template renderer* (:func:`render_word` / :func:`render_expression`) that fills slots
  (name, pronoun, item, verbs) to phrase the chain as a word problem or a bare expression;
- a deterministic *solver* (:func:`solve`) that folds the chain into the gold answer.
  The fully parenthesised expression in ``metadata["expression"]`` is built separately,
  so tests can re-evaluate it independently of the solver.

Difficulty (``difficulty=1..5``) sets the number of steps, the operand range, the
operations and the phrasing; each can be overridden (``steps``, ``max_operand``, ``ops``,
``style``). Level 1 is a few-shot completion of single-step sums of tiny numbers
("2 + 3 = 5"), which the embedded 270M model gets right often; level 3 is a two-step word
problem with operands up to 20, which it mostly gets wrong.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Literal

from ..config import derive_seed
from ..errors import ConfigError
from ..types import Problem
from .base import Task

__all__ = ["ArithTask", "Step", "Chain", "LEVELS", "generate", "solve", "render_word",
           "render_expression", "expression"]

Op = Literal["+", "-", "*", "/"]

#: difficulty → (style, steps, operations, smallest and largest operand)
LEVELS: dict[int, dict[str, Any]] = {
    1: {"style": "expression", "steps": 1, "ops": "+", "min_operand": 1, "max_operand": 4},
    2: {"style": "expression", "steps": 2, "ops": "+-", "min_operand": 1, "max_operand": 9},
    3: {"style": "word", "steps": 2, "ops": "+-", "min_operand": 2, "max_operand": 20},
    4: {"style": "word", "steps": 3, "ops": "+-*", "min_operand": 2, "max_operand": 50},
    5: {"style": "word", "steps": 4, "ops": "+-*/", "min_operand": 2, "max_operand": 100},
}

_NAMES = [("Ann", "she", "her"), ("Ben", "he", "him"), ("Cara", "she", "her"), ("Dev", "he", "him"),
          ("Eva", "she", "her"), ("Finn", "he", "him"), ("Gia", "she", "her"), ("Hugo", "he", "him"),
          ("Iris", "she", "her"), ("Jon", "he", "him"), ("Kim", "she", "her"), ("Leo", "he", "him")]
_ITEMS = ["apples", "marbles", "stickers", "books", "coins", "shells", "pencils", "cards", "stamps", "eggs"]
_SENTENCES: dict[str, list[str]] = {
    "+": ["{P} buys {v} more {items}.", "{P} finds {v} more {items}.", "A friend gives {o} {v} more {items}."],
    "-": ["{P} gives away {v} {items}.", "{P} sells {v} {items}.", "{P} loses {v} {items}."],
    "*": ["Then {p} ends up with {v} times as many {items} as before."],
    "/": ["{P} puts the {items} into {v} equal piles and keeps one pile."],
}


@dataclass(frozen=True)
class Step:
    op: Op
    value: int


@dataclass(frozen=True)
class Chain:
    """A start value and the operations applied to it, left to right."""

    start: int
    steps: tuple[Step, ...]


def solve(chain: Chain) -> int:
    """The gold answer: fold the steps over the start value (exact integer arithmetic)."""
    acc = chain.start
    for s in chain.steps:
        if s.op == "+":
            acc += s.value
        elif s.op == "-":
            acc -= s.value
        elif s.op == "*":
            acc *= s.value
        else:
            q, r = divmod(acc, s.value)
            if r:
                raise ValueError(f"inexact division {acc} / {s.value}")
            acc = q
    return acc


def expression(chain: Chain) -> str:
    """The chain as a fully parenthesised infix expression, e.g. ``((3 + 4) * 2)``."""
    out = str(chain.start)
    for s in chain.steps:
        out = f"({out} {'//' if s.op == '/' else s.op} {s.value})"
    return out


def generate(rng: random.Random, *, steps: int, ops: str, min_operand: int, max_operand: int) -> Chain:
    """A random valid chain: every intermediate value is a non-negative integer. When the
    drawn operation cannot be applied validly (nothing left to subtract, no exact divisor,
    a product too large), addition is used instead — so the chain always has ``steps``
    steps."""
    cap = max_operand * 10
    acc = rng.randint(min_operand, max_operand)
    start = acc
    chain: list[Step] = []
    for _ in range(steps):
        op = rng.choice(ops)
        value: int | None = None
        if op == "-" and acc >= min_operand:
            value = rng.randint(min_operand, min(max_operand, acc))
        elif op == "*":
            factors = [f for f in range(2, 6) if acc * f <= cap]
            value = rng.choice(factors) if factors and acc > 0 else None
        elif op == "/":
            divisors = [d for d in range(2, 6) if acc % d == 0 and acc // d > 0]
            value = rng.choice(divisors) if divisors else None
        if value is None:
            op, value = "+", rng.randint(min_operand, max_operand)
        step = Step(op, value)  # type: ignore[arg-type]
        chain.append(step)
        acc = solve(Chain(acc, (step,)))
    return Chain(start, tuple(chain))


def render_expression(chain: Chain) -> str:
    """``3 + 4 - 2 =`` (only + and - are used in this style, so left-to-right is right)."""
    if any(s.op in "*/" for s in chain.steps):
        raise ConfigError("ops", "the expression style supports only + and -")
    return " ".join([str(chain.start)] + [f"{s.op} {s.value}" for s in chain.steps]) + " ="


def render_word(chain: Chain, rng: random.Random) -> str:
    """A word problem: slots (name, pronoun, item, verb phrasing) drawn from ``rng``."""
    name, p, o = rng.choice(_NAMES)
    items = rng.choice(_ITEMS)
    parts = [f"{name} has {chain.start} {items}."]
    for s in chain.steps:
        parts.append(rng.choice(_SENTENCES[s.op]).format(P=p.capitalize(), p=p, o=o, v=s.value, items=items))
    parts.append(f"How many {items} does {name} have now?")
    return " ".join(parts)


_FIRST_INT = re.compile(r"-?\d+")


class ArithTask(Task):
    """Procedural arithmetic (word) problems; ``difficulty`` 1–5 (see module docstring)."""

    name = "arith"
    answer_type = "math"
    sampling_defaults = {"max_tokens": 6, "stop": ("\n",)}

    def __init__(self, difficulty: int = 1, n: int = 50, seed: int = 0, shots: int | None = None,
                 steps: int | None = None, max_operand: int | None = None, min_operand: int | None = None,
                 ops: str | None = None, style: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        if difficulty not in LEVELS:
            raise ConfigError("difficulty", f"must be one of {sorted(LEVELS)}, got {difficulty!r}")
        level = dict(LEVELS[difficulty])
        for key, value in (("steps", steps), ("max_operand", max_operand), ("min_operand", min_operand),
                           ("ops", ops), ("style", style)):
            if value is not None:
                level[key] = value
        if not isinstance(n, int) or n < 1:
            raise ConfigError("n", f"must be a positive integer, got {n!r}")
        if not isinstance(level["steps"], int) or not 1 <= level["steps"] <= 20:
            raise ConfigError("steps", f"must be 1..20, got {level['steps']!r}")
        if not 0 <= level["min_operand"] <= level["max_operand"]:
            raise ConfigError("max_operand", "need 0 <= min_operand <= max_operand")
        if not level["ops"] or set(level["ops"]) - set("+-*/"):
            raise ConfigError("ops", f"use a string of + - * /, got {level['ops']!r}")
        if level["style"] not in ("word", "expression"):
            raise ConfigError("style", f"must be 'word' or 'expression', got {level['style']!r}")
        if level["style"] == "expression" and set(level["ops"]) - set("+-"):
            raise ConfigError("ops", "the expression style supports only + and -")
        self.difficulty, self.n, self.seed, self.level = difficulty, n, seed, level
        self.shots = shots if shots is not None else (8 if level["style"] == "expression" else 3)
        if self.shots < 0:
            raise ConfigError("shots", "must be >= 0")

    def _item(self, rng: random.Random) -> tuple[Chain, str]:
        lv = self.level
        chain = generate(rng, steps=lv["steps"], ops=lv["ops"], min_operand=lv["min_operand"],
                         max_operand=lv["max_operand"])
        text = render_expression(chain) if lv["style"] == "expression" else render_word(chain, rng)
        return chain, text

    def _shot_block(self) -> str:
        rng = random.Random(derive_seed(self.seed, "arith-shots", self.difficulty))
        lines = []
        for _ in range(self.shots):
            chain, text = self._item(rng)
            if self.level["style"] == "expression":
                lines.append(f"{text} {solve(chain)}\n")
            else:
                lines.append(f"Q: {text}\nA: {solve(chain)}\n\n")
        return "".join(lines)

    def load(self) -> list[Problem]:
        shots = self._shot_block()
        out = []
        for i in range(self.n):
            rng = random.Random(derive_seed(self.seed, "arith", self.difficulty, i))
            chain, text = self._item(rng)
            prompt = shots + (text if self.level["style"] == "expression" else f"Q: {text}\nA:")
            out.append(Problem(
                id=f"arith-d{self.difficulty}-s{self.seed}-{i:04d}", prompt=prompt, answers=[str(solve(chain))],
                task=self.name, answer_type="math",
                metadata={"question": text, "difficulty": self.difficulty, "expression": expression(chain),
                          "start": chain.start, "steps": [[s.op, s.value] for s in chain.steps],
                          "style": self.level["style"]}))
        return out

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        """The first integer of the continuation (the model answers right after ``=``/``A:``)."""
        m = _FIRST_INT.search(text or "")
        return str(int(m.group(0))) if m else None
