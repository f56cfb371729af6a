"""Verifiers through the registry, as the engine creates them; the judge, GenRM and PRM
against scripted backends and a real HTTP PRM service on loopback; the CLI."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from ttscale.backends.mock import MockBackend
from ttscale.cli import main as cli_main
from ttscale.errors import ConfigError, VerifierError
from ttscale.registry import verifiers
from ttscale.types import Problem, Sample, Usage
from ttscale.verify.judge import p_true_from_logprobs, parse_verdict
from ttscale.verify.prm import aggregate_steps, split_steps


def _samples(problem: Problem, texts: list[str]) -> list[Sample]:
    return [Sample(problem_id=problem.id, index=i, text=t, usage=Usage(completion_tokens=5)) for i, t in enumerate(texts)]


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_builtins_are_registered() -> None:
    assert set(verifiers.names()) >= {"oracle", "math", "choice", "text", "code", "judge", "genrm", "prm", "ensemble"}


def test_reference_verifiers() -> None:
    p = Problem(id="p", prompt="1/2 = ?", answers=["0.5"], answer_type="math")
    out = _run(verifiers.create("math").score(p, _samples(p, [r"\boxed{\frac12}", "The answer is 3", "hmm"])))
    assert [v.score for v in out] == [1.0, 0.0, 0.0]
    assert [v.label for v in out] == ["correct", "incorrect", "no_answer"]
    assert all(v.verifier == "math" and v.problem_id == "p" for v in out)
    oracle = _run(verifiers.create("oracle").score(p, _samples(p, ["The answer is 1/2"])))
    assert oracle[0].score == 1.0
    c = Problem(id="c", prompt="?", answers=["B"], answer_type="choice")
    assert _run(verifiers.create("choice").score(c, _samples(c, ["Answer: (b)"])))[0].score == 1.0
    nr = Problem(id="n", prompt="?")
    assert _run(verifiers.create("text").score(nr, _samples(nr, ["x"])))[0].label == "no_reference"


def test_oracle_uses_the_task_when_given() -> None:
    from ttscale.registry import tasks
    task = tasks.create("facts", families="capitals", per_family=1)
    prob = task.load()[0]
    right = prob.answers[0]
    out = _run(verifiers.create("oracle", task=task).score(prob, _samples(prob, [f" {right}\n", " Atlantis"])))
    assert [v.score for v in out] == [1.0, 0.0]


def test_code_verifier_reports_false_positives() -> None:
    p = Problem(id="c", prompt="def add(a, b):\n", answer_type="code", metadata={
        "entry_point": "add",
        "tests": "def check(f):\n    assert f(1, 2) == 3\n",
        "hidden_tests": "def check(f):\n    assert f(1, 2) == 3\n    assert f(-5, 5) == 0\n"})
    texts = ["    return a + b\n", "    return 3\n", "    return a - b\n", "no code at all."]
    out = _run(verifiers.create("code", timeout=10).score(p, _samples(p, texts)))
    assert [v.score for v in out] == [1.0, 1.0, 0.0, 0.0]
    assert [v.label for v in out] == ["true_positive", "false_positive", "true_negative", "no_code"]
    assert json.loads(out[1].raw)["hidden"]["status"] == "error"


def test_parse_verdict_and_p_true() -> None:
    assert parse_verdict(" Yes, it is right.") is True
    assert parse_verdict("The solution is incorrect.") is False
    assert parse_verdict("Answer: No") is False
    assert parse_verdict("...") is None
    assert p_true_from_logprobs({" Yes": -0.1, " No": -2.0}) == pytest.approx(0.8699, abs=1e-3)
    assert p_true_from_logprobs({}) is None


class _LogprobJudge(MockBackend):
    """A scripted judge with a next-token hook: says Yes with p=0.8 when the solution
    mentions 42, else p=0.1."""

    async def next_token_logprobs(self, prompt: Any, candidates: list[str]) -> tuple[dict[str, float], Usage]:
        import math
        p = 0.8 if "42" in str(prompt).split("Proposed solution:")[-1] else 0.1
        return {" Yes": math.log(p), " No": math.log(1 - p)}, Usage(prompt_tokens=len(str(prompt).split()))


def test_judge_logprobs_and_parsed_paths() -> None:
    p = Problem(id="q", prompt="What is 6*7?")
    s = _samples(p, ["It is 42.", "It is 41."])
    out = _run(verifiers.create("judge").score(p, s, backend=_LogprobJudge()))
    assert [round(v.score, 3) for v in out] == [0.8, 0.1]
    assert json.loads(out[0].raw)["method"] == "logprobs" and out[0].usage.prompt_tokens > 0
    parsed = MockBackend(default={"Yes": 0.7, "No": 0.3}, template=" {answer}")
    out = _run(verifiers.create("judge", samples=8, temperature=1.0).score(p, s, backend=parsed))
    assert all(0.0 <= v.score <= 1.0 for v in out) and json.loads(out[0].raw)["method"] == "parse"
    assert out[0].usage.completion_tokens > 0
    with pytest.raises(VerifierError, match="judge backend"):
        _run(verifiers.create("judge").score(p, s))
    with pytest.raises(VerifierError, match="log-probs"):
        _run(verifiers.create("judge", method="logprobs").score(p, s, backend=parsed))
    with pytest.raises(ConfigError, match="template"):
        verifiers.create("judge", template="no placeholders")


def test_genrm_counts_verification_tokens() -> None:
    p = Problem(id="q", prompt="What is 6*7?")
    s = _samples(p, ["It is 42."])
    chains = MockBackend(default={"correct. Yes": 0.75, "wrong. No": 0.25}, template=" Checking: {answer}", tokens=20)
    out = _run(verifiers.create("genrm", chains=8).score(p, s, backend=chains))
    raw = json.loads(out[0].raw)
    assert len(raw["chains"]) == 8 and out[0].score == pytest.approx(sum(raw["chains"]) / 8)
    assert out[0].usage.completion_tokens == 8 * 20
    with pytest.raises(ConfigError, match="chains"):
        verifiers.create("genrm", chains=0)


def test_prm_steps_and_aggregation() -> None:
    assert split_steps("Step 1: a\nStep 2: b\nStep 3: c") == ["Step 1: a", "Step 2: b", "Step 3: c"]
    assert split_steps("a\n\nb\n\nc") == ["a", "b", "c"]
    assert split_steps("a\nb") == ["a", "b"]
    assert len(split_steps("\n".join(map(str, range(100))), max_steps=8)) == 8
    assert aggregate_steps([0.9, 0.5, 0.8], "min") == 0.5
    assert aggregate_steps([0.9, 0.5, 0.8], "last") == 0.8
    assert aggregate_steps([0.5, 0.5], "product") == 0.25
    assert aggregate_steps([], "min") is None
    with pytest.raises(ConfigError, match="aggregate"):
        verifiers.create("prm", aggregate="max")
    p = Problem(id="q", prompt="6*7?")
    out = _run(verifiers.create("prm").score(p, _samples(p, ["6*7\n\n= 42"]), backend=_LogprobJudge()))
    assert out[0].score == pytest.approx(0.1)  # the first step alone does not mention 42
    assert json.loads(out[0].raw)["step_scores"] == pytest.approx([0.1, 0.8])


class _PRMHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        scores = [0.2 if "wrong" in s else 0.9 for s in body["steps"]]
        data = json.dumps({"step_scores": scores, "usage": {"prompt_tokens": 7}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_prm_over_http_service() -> None:
    server = HTTPServer(("127.0.0.1", 0), _PRMHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/score"
        p = Problem(id="q", prompt="?")
        out = _run(verifiers.create("prm", url=url, aggregate="product").score(
            p, _samples(p, ["fine\n\nstill fine", "fine\n\nwrong step"])))
        assert [round(v.score, 3) for v in out] == [0.81, 0.18]
        assert out[0].usage.prompt_tokens == 7
        bad = verifiers.create("prm", url=f"http://127.0.0.1:{server.server_port}/missing-port-0".replace(
            str(server.server_port), "1"))
        with pytest.raises(VerifierError, match="PRM service"):
            _run(bad.score(p, _samples(p, ["x"])))
    finally:
        server.shutdown()


def test_ensemble_verifier_combines_members() -> None:
    p = Problem(id="q", prompt="What is 6*7?", answers=["42"], answer_type="math")
    ens = verifiers.create("ensemble", verifiers={"judge": {}, "math": {}})
    texts = ["It is 42.", "It is 41.", "The answer is 42", "The answer is 40"] * 3
    out = _run(ens.score(p, _samples(p, texts), backend=_LogprobJudge()))
    assert len(out) == len(texts)
    assert out[0].score > 0.5 > out[1].score
    assert set(ens.last_fit.kept) == {"judge", "math"}
    with pytest.raises(ConfigError, match="verifiers"):
        verifiers.create("ensemble", verifiers=["ensemble"])


def test_cli_verify_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["verify", "--type", "math", "--gold", "0.5", "--response", r"so \boxed{\frac12}", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row == {"answer": r"\frac12", "canonical": r"\frac{1}{2}", "correct": True, "reason": row["reason"]}
    f = tmp_path / "in.jsonl"
    f.write_text('{"response": "Answer: B"}\n{"text": "no idea", "gold": "C"}\n')
    assert cli_main(["verify", "--type", "choice", "--gold", "B", "--input", str(f), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rows[0]["correct"] is True and rows[1] == {"answer": None, "canonical": None, "correct": False,
                                                      "reason": "no answer extracted"}
    assert cli_main(["verify", "--type", "text", "--gold", "Paris", "--response", "The paris."]) == 0
    assert "1/1 correct" in capsys.readouterr().out
    f.write_text('{"response": "x"}\nnot json\n')
    assert cli_main(["verify", "--type", "math", "--gold", "1", "--input", str(f)]) == 2
    assert "row 2" in capsys.readouterr().err
    assert cli_main(["verify", "--type", "math", "--response", "1"]) == 2
    assert "--gold" in capsys.readouterr().err


def test_cli_verify_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = tmp_path / "tests.py"
    tests.write_text("assert add(2, 3) == 5\n")
    code = "```python\ndef add(a, b):\n    return a + b\n```"
    assert cli_main(["verify", "--type", "code", "--gold", str(tests), "--response", code, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] is True
