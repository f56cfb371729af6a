"""`arith`: gold answers checked independently of the solver; difficulty moves accuracy."""

from __future__ import annotations

import ast
import operator
import re
from fractions import Fraction

import pytest

from ttscale.errors import ConfigError
from ttscale.runner import make_task

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}


def _eval(node: ast.AST) -> int:
    """A tiny evaluator of the +,-,*,// integer expressions in metadata (no eval())."""
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.FloorDiv):
            assert left % right == 0, "division must be exact"
        return _OPS[type(node.op)](left, right)
    raise AssertionError(f"unexpected node {ast.dump(node)}")


_WORD_STEPS = [
    (re.compile(r"(?:buys|finds|gives \w+) (\d+) more"), lambda a, v: a + v),
    (re.compile(r"(?:gives away|sells|loses) (\d+)"), lambda a, v: a - v),
    (re.compile(r"(\d+) times as many"), lambda a, v: a * v),
    (re.compile(r"into (\d+) equal piles"), lambda a, v: a / v),
]


def _reread_word_problem(text: str) -> Fraction:
    """Recompute a word problem's answer from its *rendered text* alone."""
    sentences = [s.strip() for s in re.split(r"(?<=[.?])\s+", text) if s.strip()]
    acc = Fraction(int(re.search(r"has (\d+) ", sentences[0]).group(1)))
    for sentence in sentences[1:-1]:
        hits = [(f, int(m.group(1))) for pat, f in _WORD_STEPS if (m := pat.search(sentence))]
        assert len(hits) == 1, sentence
        f, v = hits[0]
        acc = Fraction(f(acc, v))
        assert acc >= 0 and acc.denominator == 1, f"invalid intermediate value in {text!r}"
    assert sentences[-1].startswith("How many")
    return acc


@pytest.mark.parametrize("difficulty", [1, 2, 3, 4, 5])
def test_gold_answers_agree_with_two_independent_recomputations(difficulty):
    problems = make_task("arith", difficulty=difficulty, n=60, seed=3).load()
    assert len({p.id for p in problems}) == 60
    for p in problems:
        gold = int(p.answers[0])
        assert _eval(ast.parse(p.metadata["expression"], mode="eval")) == gold
        question = p.metadata["question"]
        if p.metadata["style"] == "expression":
            lhs = question.rstrip("= ").strip()
            assert _eval(ast.parse(lhs, mode="eval")) == gold  # + and - only: left to right
            assert p.prompt.endswith(question)
        else:
            assert _reread_word_problem(question) == gold
            assert p.prompt.endswith(f"Q: {question}\nA:")
        assert gold >= 0


def test_shots_are_correct_and_problems_are_seeded():
    a = make_task("arith", difficulty=2, n=5, seed=1).load()
    b = make_task("arith", difficulty=2, n=5, seed=1).load()
    c = make_task("arith", difficulty=2, n=5, seed=2).load()
    assert [p.prompt for p in a] == [p.prompt for p in b]
    assert [p.prompt for p in a] != [p.prompt for p in c]
    for line in a[0].prompt.splitlines()[:-1]:  # every few-shot line is right
        lhs, rhs = line.split("=")
        assert _eval(ast.parse(lhs, mode="eval")) == int(rhs)
    # problem i does not depend on how many problems were asked for
    assert make_task("arith", difficulty=2, n=2, seed=1).load()[1].prompt == a[1].prompt


def test_difficulty_knobs_shape_the_problems():
    d1 = make_task("arith", difficulty=1, n=40).load()
    assert all(len(p.metadata["steps"]) == 1 and p.metadata["steps"][0][0] == "+" for p in d1)
    assert all(1 <= p.metadata["start"] <= 4 and 1 <= p.metadata["steps"][0][1] <= 4 for p in d1)
    d3 = make_task("arith", difficulty=3, n=40).load()
    assert all(len(p.metadata["steps"]) == 2 and p.metadata["style"] == "word" for p in d3)
    custom = make_task("arith", difficulty=4, steps=6, max_operand=9, n=10).load()
    assert all(len(p.metadata["steps"]) == 6 for p in custom)


def test_extraction_reads_the_first_integer():
    task = make_task("arith", difficulty=1)
    p = task.load()[0]
    assert task.extract(" 5\n3 + 1 = 4") == "5"
    assert task.extract(" no idea") is None
    assert task.is_correct(task.extract(f" {p.answers[0]} apples"), p)


@pytest.mark.parametrize("options, field", [
    ({"difficulty": 9}, "difficulty"), ({"n": 0}, "n"), ({"steps": 0}, "steps"),
    ({"ops": "+^"}, "ops"), ({"style": "poem"}, "style"), ({"style": "expression", "ops": "*"}, "ops"),
    ({"min_operand": 5, "max_operand": 2}, "max_operand"),
])
def test_bad_options_name_the_field(options, field):
    with pytest.raises(ConfigError) as err:
        make_task("arith", **options)
    assert err.value.field == field


@pytest.mark.model
def test_difficulty_1_is_measurably_easier_than_3_on_the_embedded_model(embedded_backend, tmp_path):
    import asyncio

    from ttscale.config import RunConfig
    from ttscale.runner import run_async

    acc = {}
    for level in (1, 3):
        cfg = RunConfig.build(task="arith", task_options={"difficulty": level, "n": 8}, n=1, strategy="single",
                              out_dir=str(tmp_path / f"d{level}"))
        res = asyncio.run(run_async(cfg, backend=embedded_backend))
        acc[level] = next(r["accuracy"] for r in res.summary["rows"] if r["method"] == "greedy")
    assert acc[1] >= acc[3] + 0.4, acc
