"""`ttscale bank import/export/list`, and a sweep over an imported bank, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ttscale.banks import export_bank, import_bank, list_banks, resolve_bank
from ttscale.errors import ConfigError, DataError, UnknownNameError
from ttscale.store import Store
from ttscale.tasks.sources import DataWarning

PER_PROBLEM = [
    {"question": "What is 2+2?", "answer": "4",
     "generated_answer": ["The answer is 4", "The answer is 5", "\\boxed{4}", "so 4"]},
    {"question": "What is 3*3?", "answer": "9",
     "generated_answer": ["The answer is 9", "The answer is 9.0", "I think 6", "The answer is 6"]},
    {"question": "Half of one?", "answer": "\\frac{1}{2}",
     "generated_answer": ["The answer is 0.5", "The answer is 1/2", "The answer is 2", "\\boxed{\\frac12}"]},
    {"question": "Broken row: empty gold", "answer": "", "generated_answer": ["x"]},
    {"question": "Broken row: responses not a list", "answer": "1", "generated_answer": "The answer is 1"},
]


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TTSCALE_HOME", str(tmp_path / "home"))
    return tmp_path


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cli(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    import os
    env = {**os.environ, "TTSCALE_HOME": str(env_home)}
    return subprocess.run([sys.executable, "-m", "ttscale", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def test_per_problem_import_then_sweep_end_to_end(home):
    src = _write_jsonl(home / "bank.jsonl", PER_PROBLEM)
    proc = _cli("bank", "import", str(src), "--name", "toy", "--type", "math", env_home=home / "home")
    assert proc.returncode == 0, proc.stderr
    assert "rows 4, 5" in proc.stderr and "skipped 2 malformed rows" in proc.stderr
    assert proc.stdout.strip().splitlines()[-1].endswith("banks/toy")
    proc = _cli("sweep", "--bank", "toy", "--strategy", "sc", "--strategy", "single", "--budgets", "1,4",
                "--orderings", "4", "--json", "--no-progress", env_home=home / "home")
    assert proc.returncode == 0, proc.stderr
    points = {(p["strategy"], p["budget"]): p for p in map(json.loads, proc.stdout.splitlines())}
    # exact values. Correct per problem: 4,5,4,"so 4" → 3/4; 9, 9.0 (same as 9), 6, 6 → 2/4;
    # 0.5, 1/2, 2, \frac12 → 3/4 (math equivalence merges 0.5 and 1/2).
    assert points[("single", 1)]["accuracy"] == pytest.approx((3 / 4 + 2 / 4 + 3 / 4) / 3)
    # the full vote: right, a 2:2 tie (credit split in half), right
    assert points[("sc", 4)]["accuracy"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert points[("sc", 4)]["problems"] == 3


def test_per_sample_import_keeps_tokens_logprobs_and_scores(home):
    rows = [
        {"problem_id": "a", "answer": "B", "response": "The answer is (B)", "completion_tokens": 12,
         "prompt_tokens": 30, "mean_logprob": -0.2, "score": 0.9},
        {"problem_id": "a", "answer": "B", "response": "I pick (C)", "completion_tokens": 20, "mean_logprob": -1.5,
         "score": 0.1},
        {"problem_id": "b", "answer": "A", "response": "Answer: A"},
        {"problem_id": "b", "answer": "C", "response": "conflicting gold"},
        {"problem_id": "c", "answer": "A", "response": "x", "completion_tokens": "many"},
        {"problem_id": "c", "answer": "A", "response": "y", "score": 3},
    ]
    src = _write_jsonl(home / "s.jsonl", rows)
    with pytest.warns(DataWarning, match=r"rows 4, 5, 6"):
        meta = import_bank(src, "mc", answer_type="choice")
    assert meta["format"] == "per-sample" and meta["samples"] == 3 and meta["skipped_rows"] == [4, 5, 6]
    with Store(resolve_bank("mc"), readonly=True) as store:
        a = store.get_samples("a", "main")
        assert a[0].answer == "B" and a[1].answer == "C"
        assert a[0].usage.completion_tokens == 12 and a[0].usage.prompt_tokens == 30
        assert a[0].logprob_mean == -0.2 and a[0].scores == {"imported": 0.9}
        assert {(v.sample_index, v.score) for v in store.verdicts("a")} == {(0, 0.9), (1, 0.1)}
        b = store.get_samples("b", "main")[0]
        assert b.metadata["tokens_estimated"] and b.usage.completion_tokens == round(len("Answer: A") / 4)
        assert store.get_meta("bank")["answer_type"] == "choice"
    with pytest.raises(DataError, match="row 4"):
        import_bank(src, "mc2", answer_type="choice", on_error="raise")
    # export gives back the contract's fields
    out = home / "back.jsonl"
    assert export_bank("mc", out) == 3
    first = json.loads(out.read_text().splitlines()[0])
    assert {k: first[k] for k in ("problem_id", "answer", "response", "completion_tokens", "prompt_tokens",
                                   "mean_logprob", "score")} == {
        "problem_id": "a", "answer": "B", "response": "The answer is (B)", "completion_tokens": 12,
        "prompt_tokens": 30, "mean_logprob": -0.2, "score": 0.9}
    # ... and re-importing the export reproduces the bank
    import_bank(out, "mc-again", answer_type="choice")
    with Store(resolve_bank("mc-again"), readonly=True) as again, Store(resolve_bank("mc"), readonly=True) as orig:
        assert [(s.problem_id, s.text, s.answer, s.usage.completion_tokens) for s in again.samples()] == \
               [(s.problem_id, s.text, s.answer, s.usage.completion_tokens) for s in orig.samples()]


def test_export_per_problem_and_parquet_round_trip(home):
    src = _write_jsonl(home / "b.jsonl", PER_PROBLEM[:3])
    import_bank(src, "toy")
    out = home / "pp.parquet"
    assert export_bank("toy", out, fmt="per-problem") == 3
    import_bank(out, "toy2", fmt="per-problem", id_field="id")
    with Store(resolve_bank("toy2"), readonly=True) as s2:
        assert [p.answers for p in s2.problems()] == [["4"], ["9"], ["\\frac{1}{2}"]]
        assert s2.count_samples() == 12


def test_import_errors_are_clear(home):
    src = _write_jsonl(home / "b.jsonl", PER_PROBLEM[:1])
    import_bank(src, "dup")
    with pytest.raises(ConfigError, match="exists"):
        import_bank(src, "dup")
    import_bank(src, "dup", overwrite=True)
    with pytest.raises(ConfigError, match="name"):
        import_bank(src, "../escape")
    odd = _write_jsonl(home / "odd.jsonl", [{"foo": 1}])
    with pytest.raises(ConfigError, match="format"):
        import_bank(odd, "odd")
    with pytest.raises(UnknownNameError, match="no-such-bank"):
        resolve_bank("no-such-bank")
    names = {b["name"] for b in list_banks()}
    assert {"dup", "champ", "champ-gpt-4"} <= names
    proc = _cli("bank", "import", str(home / "missing.jsonl"), "--name", "m", env_home=home / "home")
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr
    proc = _cli("bank", "list", "--json", env_home=home / "home")
    assert proc.returncode == 0 and any(json.loads(line)["name"] == "dup" for line in proc.stdout.splitlines())


def test_field_names_are_overridable_on_the_command_line(home):
    rows = [{"q": r["question"], "gold": r["answer"], "outs": r["generated_answer"]} for r in PER_PROBLEM[:3]]
    src = _write_jsonl(home / "renamed.jsonl", rows)
    plain = _cli("bank", "import", str(src), "--name", "renamed", "--type", "math", env_home=home / "home")
    assert plain.returncode == 2 and "Traceback" not in plain.stderr  # the default names are absent
    proc = _cli("bank", "import", str(src), "--name", "renamed", "--type", "math", "--format", "per-problem",
                "--question-field", "q", "--answer-field", "gold", "--responses-field", "outs",
                env_home=home / "home")
    assert proc.returncode == 0, proc.stderr
    proc = _cli("sweep", "--bank", "renamed", "--strategy", "sc", "--budgets", "4", "--json", "--no-progress",
                env_home=home / "home")
    assert proc.returncode == 0, proc.stderr
    (point,) = map(json.loads, proc.stdout.splitlines())
    assert point["problems"] == 3 and point["accuracy"] == pytest.approx((1 + 0.5 + 1) / 3)
