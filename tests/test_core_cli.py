"""`ttscale run` as a user runs it: a real subprocess, resumable after SIGKILL, clear errors."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ttscale

RUN = [sys.executable, "-m", "ttscale", "run", "--backend", "mock", "--no-progress"]


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ttscale", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def _rows(db: Path) -> dict[tuple[str, str, int], str]:
    con = sqlite3.connect(db)
    try:
        return {(p, s, i): d for p, s, i, d in con.execute("SELECT problem_id, stream, idx, data FROM samples")}
    finally:
        con.close()


def test_run_writes_run_directory_and_prints_it_last(tmp_path):
    out = tmp_path / "run"
    proc = _cli("run", "--backend", "mock", "--no-progress", "--limit", "4", "-n", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    summary = json.loads((out / "summary.json").read_text())
    methods = [r["method"] for r in summary["rows"]]
    assert methods[:3] == ["greedy", "pass@1 (sampled)", "maj@1"] and "maj@4" in methods
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["n"] == 4 and "python" in cfg["versions"]
    assert (out / "samples.sqlite").exists()
    assert summary["samples_in_store"] == 4 * 4 + 4  # sampled + greedy


def test_problems_short_of_n_samples_are_named_not_silently_dropped(tmp_path):
    out = tmp_path / "run"
    proc = _cli("run", "--backend", "mock", "--no-progress", "--limit", "4", "-n", "4", "--run-max-samples", "10",
                "--concurrency", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    maj = next(r for r in summary["rows"] if r["method"] == "maj@4")
    assert maj["problems"] < summary["problems"]
    assert f"cover the {maj['problems']} of 4 problems" in proc.stdout


def test_sigkill_midway_then_rerun_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "run"
    args = [*RUN, "--limit", "8", "-n", "8", "--concurrency", "1", "--backend-option", "latency=0.15",
            "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    db = out / "samples.sqlite"
    deadline = time.monotonic() + 60
    before: dict = {}
    while time.monotonic() < deadline:
        if db.exists():
            try:
                before = _rows(db)
            except sqlite3.DatabaseError:
                before = {}
            if len(before) >= 17:
                break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = _rows(db)
    expected_total = 8 * 8 + 8
    assert 0 < len(before) < expected_total, "the kill must land midway"

    again = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    after = _rows(db)
    assert len(after) == expected_total  # primary key (problem, stream, index): each exactly once
    for key, data in before.items():
        assert after[key] == data  # written before the kill, untouched
    summary = json.loads((out / "summary.json").read_text())
    assert summary["samples_generated"] == expected_total - len(before)


@pytest.mark.parametrize("args, needle", [
    (["--task", "no-such-task"], "unknown task 'no-such-task'; choose one of"),
    (["--backend", "no-such-backend"], "unknown backend 'no-such-backend'"),
    (["-n", "0"], "n: must be >= 1"),
    (["-n", "-3"], "n: must be >= 1"),
    (["--temperature", "-0.5"], "temperature: must be >= 0"),
    (["--top-p", "0"], "top_p"),
    (["--strategy", "sc:bogus=1"], "sc.bogus: unknown parameter"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, needle):
    proc = _cli("run", "--backend", "mock", "--no-progress", "--out", str(tmp_path / "r"), *args)
    _one_clear_line(proc, needle)


def _one_clear_line(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith("ttscale: error: ") and needle in proc.stderr, proc.stderr


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = _cli("run", "--backend", "mock", "--no-progress", "--limit", "1", "--out", str(blocker / "run"))
    _one_clear_line(proc, f"out_dir: cannot write the run directory {blocker / 'run'}")
    proc = _cli("run", "--backend", "mock", "--no-progress", "--limit", "1", "--out", str(blocker))
    _one_clear_line(proc, f"out_dir: cannot write the run directory {blocker}")


def test_corrupt_store_file(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "samples.sqlite").write_bytes(b"garbage" * 1000)
    proc = _cli("run", "--backend", "mock", "--no-progress", "--limit", "1", "--out", str(out))
    _one_clear_line(proc, f"the sample store {out / 'samples.sqlite'} is unreadable or corrupt")


def test_truncated_store_file(tmp_path):
    out = tmp_path / "run"
    assert _cli("run", "--backend", "mock", "--no-progress", "--limit", "2", "--out", str(out)).returncode == 0
    db = out / "samples.sqlite"
    data = db.read_bytes()
    assert len(data) > 8192
    db.write_bytes(data[: len(data) // 2])
    proc = _cli("run", "--backend", "mock", "--no-progress", "--limit", "2", "--out", str(out))
    _one_clear_line(proc, "corrupt")


def test_sqlite_file_that_is_not_a_sample_store(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    con = sqlite3.connect(out / "samples.sqlite")
    con.execute("CREATE TABLE samples (x)")
    con.commit()
    con.close()
    proc = _cli("run", "--backend", "mock", "--no-progress", "--limit", "1", "--out", str(out))
    _one_clear_line(proc, "is not a ttscale sample store")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"versions": {}}'])
def test_resume_from_a_corrupt_config(tmp_path, content):
    (tmp_path / "config.json").write_text(content)
    proc = _cli("run", "--resume", str(tmp_path), "--no-progress")
    _one_clear_line(proc, f"resume: {tmp_path / 'config.json'} is unreadable or not a ttscale run config")
    proc = _cli("run", "--resume", str(tmp_path / "missing"), "--no-progress")
    _one_clear_line(proc, "resume: ")


def test_rerun_with_different_settings_is_refused(tmp_path):
    out = tmp_path / "run"
    assert _cli("run", "--backend", "mock", "--no-progress", "--limit", "2", "-n", "2", "--out", str(out)).returncode == 0
    proc = _cli("run", "--backend", "mock", "--no-progress", "--limit", "2", "-n", "3", "--out", str(out))
    assert proc.returncode == 2 and "different n" in proc.stderr
    resumed = _cli("run", "--resume", str(out), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr


@pytest.mark.parametrize("model", ["missing.gguf", "no-such-model"])
def test_unknown_model(tmp_path, model):
    name = str(tmp_path / model) if model.endswith(".gguf") else model
    proc = _cli("run", "--model", name, "--no-progress", "--limit", "1", "--out", str(tmp_path / "r"))
    _one_clear_line(proc, f"model: {name!r} does not exist")


def test_public_api_is_pinned():
    assert sorted(ttscale.__all__) == sorted([
        "__version__", "run", "run_async", "solve", "RunResult", "make_backend", "make_strategy",
        "make_task", "Problem", "Sample", "Generation", "Verdict", "Decision", "Usage",
        "SamplingConfig", "RunConfig", "Budget", "Strategy", "Draw", "Verify", "Done", "View", "Task",
        "Engine", "LiveSource", "Store", "backends", "tasks", "strategies", "verifiers",
        "TTScaleError", "UserError", "ConfigError", "UnknownNameError", "DataError", "StoreError",
        "BackendError", "MissingDependencyError", "VerifierError"])
    for name in ttscale.__all__:
        assert hasattr(ttscale, name), name


def test_import_is_light():
    code = "import sys, ttscale; print(any(m in sys.modules for m in ('torch', 'transformers', 'fastapi')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False"


def test_explicit_max_tokens_beats_the_task_default_and_survives_resume(tmp_path):
    from ttscale.config import RunConfig, SamplingConfig
    from ttscale.runner import make_task

    task = make_task("facts")
    assert task.sampling(SamplingConfig()).max_tokens == 8  # task default
    assert task.sampling(SamplingConfig.build(max_tokens=16)).max_tokens == 16
    cfg = RunConfig.build(sampling={"max_tokens": 16, "temperature": 0.7})
    cfg.save(tmp_path / "config.json")
    again = RunConfig.model_validate(json.loads((tmp_path / "config.json").read_text())["config"])
    assert task.sampling(again.sampling).max_tokens == 16
    assert again.to_json() == cfg.to_json()
    out = tmp_path / "run"
    assert _cli("run", "--backend", "mock", "--no-progress", "--limit", "1", "-n", "2", "--out", str(out)).returncode == 0
    resumed = _cli("run", "--resume", str(out), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
