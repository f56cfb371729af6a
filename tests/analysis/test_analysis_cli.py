"""`ttscale sweep` / `ttscale report` on a scripted backend: the --json contract, bank reuse
without model calls, stored decisions, and clear errors for bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ttscale.analysis.curves import CONTRACT_KEYS, read_sweep
from ttscale.cli import main
from ttscale.store import Store

MOCK = ["--backend", "mock", "--backend-option", 'default={"paris": 0.5, "rome": 0.3, "berlin": 0.2}',
        "--backend-option", "template={answer}", "--task-option", "families=capitals"]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "run"
    rc = main(["sweep", "--task", "facts", *MOCK, "--limit", "4", "-n", "6", "--out", str(out),
               "--orderings", "4", "--strategy", "sc", "--strategy", "beta", "--strategy", "borda",
               "--budgets", "1,2,4,6", "--json", "--no-progress"])
    assert rc == 0
    return out


def test_sweep_json_follows_the_contract(drawn: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["sweep", "--bank", str(drawn), "--strategy", "sc", "--strategy", "beta:threshold=0.9",
               "--budgets", "1,2,4,8", "--orderings", "5", "--json"])
    assert rc == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert len(lines) == 2 * 3  # budget 8 exceeds the 6-sample bank and is dropped
    for obj in lines:
        assert tuple(obj) == CONTRACT_KEYS
        assert 0.0 <= obj["accuracy"] <= 1.0 and obj["accuracy_se"] >= 0.0
        assert obj["orderings"] == 5 and obj["problems"] == 4
        assert obj["mean_samples"] <= obj["budget"] and obj["mean_tokens"] > 0 and obj["mean_cost"] == 0.0
    beta = [o for o in lines if o["strategy"] == "beta"]
    assert {o["params"]["max_samples"] for o in beta} == {1, 2, 4} and beta[0]["params"]["threshold"] == 0.9


def test_bank_reuse_makes_no_model_calls_and_stores_decisions(drawn: Path) -> None:
    with Store(drawn, readonly=True) as store:
        before = store.count_samples()
        labels = store.decision_labels()
        decisions = store.decisions("sweep/borda:n=4,p=0.5@4")
    assert before == 4 * 6
    assert {"sweep/sc:n=2@2", "sweep/beta:max_samples=6,batch=1,threshold=0.95@6"} <= set(labels)
    assert len(decisions) == 4 * 4 and {d.ordering for d in decisions} == {0, 1, 2, 3}
    # the bank was swept again above (--bank): nothing new was drawn
    assert main(["sweep", "--bank", str(drawn), "--strategy", "sc", "--budgets", "2", "--json"]) == 0
    with Store(drawn, readonly=True) as store:
        assert store.count_samples() == before
    points, settings = read_sweep(drawn)  # type: ignore[misc]
    assert settings["bank"] == str(drawn) and points[0].label == "sweep/sc:n=2@2"


def test_bank_copy_into_out(drawn: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    assert main(["sweep", "--bank", str(drawn), "--out", str(out), "--strategy", "esc", "--json"]) == 0
    with Store(out, readonly=True) as store:
        assert any(label.startswith("sweep/esc") for label in store.decision_labels())


def test_report_writes_html_and_pngs(drawn: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r" / "rep.html"
    assert main(["report", str(drawn), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "accuracy" in printed
    html = out.read_text()
    assert html.count('src="data:image/png;base64,') >= 2 and "http://" not in html and "https://" not in html
    for pid in ("capitals-000", "capitals-003"):
        assert f'id="p-{pid}"' in html
    assert "sweep/sc:n=2@2" in html and "Compute-optimal" in html
    ids = re.findall(r'id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "element ids must be unique"
    assert '<table id="points">' in html and '<table id="optimal">' in html
    assert (tmp_path / "r" / "rep-accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["--budgets", "1,x"], "budgets"),
    (["--budgets", "0,2"], "budgets"),
    (["--x-axis", "bananas"], "x-axis"),
    (["--strategy", "nosuch"], "unknown strategy 'nosuch'"),
    (["--strategy", "usc"], "model calls"),
    (["--strategy", "sc:n=4"], "sc.n"),
    (["--orderings", "0"], "orderings"),
    (["--prices", "/nonexistent/prices.toml"], "prices"),
])
def test_bad_sweep_input_is_named(drawn: Path, argv: list[str], message: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--bank", str(drawn), *argv]) == 2
    assert message in capsys.readouterr().err


def test_unknown_bank_and_report_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--bank", str(tmp_path / "nope")]) == 2
    assert "bank" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "sample" in capsys.readouterr().err


def test_sweep_names_a_signal_the_bank_does_not_carry():
    """bon by log-prob on a bank without log-probs would silently be a plain vote: say so."""
    from types import SimpleNamespace

    from ttscale.commands.sweep import signal_gaps
    from ttscale.types import Sample

    plain = [Sample(problem_id="p", index=i, text="x", answer="a") for i in range(3)]
    scored = [s.model_copy(update={"logprob_mean": -0.5}) for s in plain]
    specs = [("bon", {"scorer": "logprob"}), ("weighted", {"weight": "self_certainty"}), ("sc", {})]
    notes = signal_gaps(specs, SimpleNamespace(bank={"p": {"main": plain}}))
    assert len(notes) == 2 and "scorer=logprob" in notes[0] and "self_certainty" in notes[1]
    notes = signal_gaps(specs, SimpleNamespace(bank={"p": {"main": scored}}))
    assert len(notes) == 1 and "self_certainty" in notes[0]  # log-probs present now
