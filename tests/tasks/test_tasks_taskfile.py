"""Task files (YAML/TOML), file tasks with a field mapping, prompt templates, `ttscale run --task FILE`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ttscale.errors import ConfigError, DataError
from ttscale.runner import make_task
from ttscale.tasks.sources import DataWarning
from ttscale.tasks.template import PromptTemplate

DATA = Path(__file__).parent / "data"


def test_yaml_task_file_builds_a_few_shot_completion_task():
    task = make_task(str(DATA / "capitals.yaml"))
    with pytest.warns(DataWarning, match="row 4"):
        problems = task.load()
    assert task.name == "capitals" and [p.id for p in problems] == ["fr", "de", "es"]
    assert problems[0].prompt == ("Q: What is the capital of Italy?\nA: Rome\n\nQ: What is the capital of Japan?"
                                  "\nA: Tokyo\n\nQ: What is the capital of France?\nA:")
    assert task.sampling().max_tokens == 8 and task.sampling().stop == ("\n",)
    assert task.is_correct(task.extract(" paris"), problems[0])
    assert not task.is_correct(task.extract(" Lyon"), problems[0])


def test_toml_task_file_with_inline_problems_and_chat_prompt():
    task = make_task(str(DATA / "sums.toml"))
    problems = task.load()
    assert problems[1].prompt == [{"role": "system", "content": "You are a careful calculator."},
                                  {"role": "user", "content": "Compute 1/2 + 1/4. Put the result in \\boxed{}."}]
    assert task.is_correct(task.extract("so \\boxed{0.75}"), problems[1])  # math equivalence


def test_task_file_errors_name_the_key(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("name: x\nanswer_typo: math\nproblems: []\n")
    with pytest.raises(ConfigError, match="answer_typo"):
        make_task(str(bad))
    bad.write_text("name: x\nfields: {question: q}\n")
    with pytest.raises(ConfigError, match="source"):
        make_task(str(bad))
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="YAML"):
        make_task(str(bad))
    bad.write_text("problems: [{question: hi, answer: '3'}]\nprompt: {template: 'Q: {question} in {unit}'}\n")
    with pytest.raises(DataError, match="unit"):
        make_task(str(bad), on_error="raise").load()
    with pytest.raises(ConfigError, match="not found"):
        make_task(str(tmp_path / "missing.yaml"))


def test_task_file_can_reuse_a_builtin_loader(tmp_path):
    spec = tmp_path / "g.yaml"
    spec.write_text(f"loader: gsm8k\nsource: {{path: {DATA / 'gsm8k.jsonl'}}}\non_error: skip\n")
    task = make_task(str(spec))
    with pytest.warns(DataWarning):
        problems = task.load()
    assert problems[0].answers == ["72"] and task.answer_type == "math"


def test_prompt_template_leaves_latex_braces_alone():
    t = PromptTemplate(template="Solve {question}; answer in \\boxed{} or \\frac{a}{b}.")
    assert t.render({"question": "x"}) == [{"role": "user", "content": "Solve x; answer in \\boxed{} or \\frac{a}{b}."}]


def test_cli_run_on_a_task_file_and_on_a_csv_with_field_mapping(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ttscale", "run", "--backend", "mock", "--no-progress",
                               "-n", "2", "--json", *args], capture_output=True, text=True, timeout=300)

    out = tmp_path / "r1"
    proc = run("--task", str(DATA / "sums.toml"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["problems"] == 2
    out = tmp_path / "r2"
    proc = run("--task", str(DATA / "problems.csv"), "--field", "question=problem", "--field", "answer=solution",
               "--field", "id=qid", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["problems"] == 3
    assert "row 3" in proc.stderr  # the skipped row is announced, not silent
