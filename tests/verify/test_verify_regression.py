"""Regression tables: real model outputs (CHAMP) and hand-written hard cases.

Every extraction bug found later adds a row here (see data/build_champ_table.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttscale.verify.extract import extract_answer
from ttscale.verify.grade import grade

DATA = Path(__file__).parent / "data"
CHAMP = [json.loads(line) for line in (DATA / "champ_regression.jsonl").read_text().splitlines() if line.strip()]
HARD = [json.loads(line) for line in (DATA / "hard_cases.jsonl").read_text().splitlines() if line.strip()]


def test_champ_table_is_big_enough() -> None:
    assert len(CHAMP) >= 300
    assert len({r["id"] for r in CHAMP}) == len(CHAMP)
    # both verdicts are represented, so the table pins false positives and false negatives
    assert 50 < sum(r["expected_correct"] for r in CHAMP) < len(CHAMP) - 50


@pytest.mark.parametrize("row", CHAMP, ids=[r["id"] for r in CHAMP])
def test_champ_row(row: dict) -> None:
    g = grade(row["text"], row["reference"], "math")
    if row.get("known_issue"):
        # still checked: once the code gets the row right, the flag must go (a strict xfail)
        if g.correct == row["expected_correct"] and g.canonical in (None, row["expected_answer"]):
            pytest.fail(f"known issue fixed, drop its known_issue flag: {row['id']}")
        pytest.xfail(row["note"])
    assert g.canonical == row["expected_answer"]
    assert extract_answer(row["text"], "math") == row["expected_answer"]
    assert g.correct == row["expected_correct"], g.reason


@pytest.mark.parametrize("row", HARD, ids=[f"{r['type']}-{i}" for i, r in enumerate(HARD)])
def test_hard_case(row: dict) -> None:
    g = grade(row["text"], row["gold"], row["type"])
    assert g.canonical == row["answer"]
    assert g.correct == row["correct"], g.reason
    if row["answer"] is None:
        assert g.answer is None and not g.correct
