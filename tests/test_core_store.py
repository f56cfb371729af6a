"""The SQLite sample bank: idempotent keys, round trips, exports, clear errors."""

from __future__ import annotations

import json
import sqlite3

import pyarrow.parquet as pq
import pytest

from ttscale.errors import StoreError
from ttscale.store import Store
from ttscale.types import Decision, Problem, Sample, Usage, Verdict


def _sample(pid: str, idx: int, answer: str = "a", stream: str = "main") -> Sample:
    return Sample(problem_id=pid, index=idx, stream=stream, text=f"text {answer}", answer=answer,
                  usage=Usage(completion_tokens=3), logprob_mean=-0.5)


def test_samples_round_trip_and_idempotent(tmp_path):
    store = Store(tmp_path)
    assert store.put_samples([_sample("p", 0), _sample("p", 1, "b")]) == 2
    # same keys again: nothing new, first write wins
    assert store.put_samples([_sample("p", 0, "CHANGED")]) == 0
    got = store.get_samples("p", "main")
    assert got[0].answer == "a" and got[1].answer == "b"
    assert store.count_samples() == 2
    assert store.get_samples("p", "other") == {}
    bank = store.bank()
    assert [s.index for s in bank["p"]["main"]] == [0, 1]


def test_wal_mode_and_single_file(tmp_path):
    Store(tmp_path).put_samples([_sample("p", 0)])
    db = sqlite3.connect(tmp_path / "samples.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_verdicts_decisions_problems_meta(tmp_path):
    store = Store(tmp_path)
    store.put_problems([Problem(id="p", prompt="q", answers=["a"])])
    store.put_verdicts([Verdict(problem_id="p", sample_index=0, verifier="v", score=0.7)])
    store.put_verdicts([Verdict(problem_id="p", sample_index=0, verifier="v", score=0.1)])
    store.put_decisions("sc:n=8", [Decision(problem_id="p", strategy="sc", answer="a", correct=True)])
    store.set_meta("k", {"x": 1})
    assert store.problems()[0].answers == ["a"]
    assert [v.score for v in store.verdicts("p")] == [0.7]
    assert store.decisions("sc:n=8")[0].correct is True
    assert store.decision_labels() == ["sc:n=8"]
    assert store.get_meta("k") == {"x": 1}


def test_exports(tmp_path):
    store = Store(tmp_path)
    store.put_samples([_sample("p", i, str(i % 2)) for i in range(5)])
    assert store.export_jsonl(tmp_path / "s.jsonl") == 5
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert Sample.model_validate(rows[0]).answer == "0"
    assert store.export_parquet(tmp_path / "s.parquet") == 5
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.num_rows == 5 and "usage_completion_tokens" in table.column_names


def test_corrupt_store_is_a_clear_error(tmp_path):
    (tmp_path / "samples.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="corrupt"):
        Store(tmp_path)


def test_missing_store_readonly(tmp_path):
    with pytest.raises(StoreError, match="no sample store"):
        Store(tmp_path / "nope.sqlite", readonly=True)
