"""The HTTP backend against the real model host (``ttscale serve --model``, the embedded Gemma
3 270M on loopback): a run over HTTP must store the same samples as the in-process backend
for the same seed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ttscale.backends.openai import OpenAIBackend
from ttscale.cli import main as cli_main
from ttscale.config import RunConfig, SamplingConfig
from ttscale.runner import run_async
from ttscale.store import Store

pytestmark = pytest.mark.model


def _samples(run_dir: Path) -> dict[tuple[str, str, int], Any]:
    with Store(run_dir) as store:
        return {(s.problem_id, s.stream, s.index): s for s in store.samples()}


def test_run_over_http_matches_in_process(model_host_url: str, embedded_backend: Any,
                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = {"task": "facts", "limit": 3, "n": 4, "seed": 5}
    local = asyncio.run(run_async(RunConfig.build(**common, out_dir=str(tmp_path / "hf")),
                                  backend=embedded_backend))
    rc = cli_main(["run", "--backend", "openai", "--base-url", model_host_url, "--limit", "3",
                   "-n", "4", "--seed", "5", "--no-progress", "--json", "--out", str(tmp_path / "http")])
    assert rc == 0
    remote_summary = json.loads(capsys.readouterr().out.splitlines()[0])
    here, there = _samples(tmp_path / "hf"), _samples(tmp_path / "http")
    assert set(here) == set(there) and len(here) == 3 * 4 + 3
    for key, a in here.items():
        b = there[key]
        assert (b.text, b.answer, b.seed, b.finish_reason) == (a.text, a.answer, a.seed, a.finish_reason), key
        assert b.usage.model_dump() == a.usage.model_dump() | {"wall_time": b.usage.wall_time}, key
        # the host and this process each pick their thread count from the machine's load
        # (HFBackend.pick_threads); 1 and 2 threads add float32 products in different orders,
        # so the statistics may differ in the sixth digit while the sampled tokens are the same
        assert b.distribution == a.distribution, key
        for stat in ("logprob_sum", "entropy_mean", "self_certainty_mean"):
            x, y = getattr(b, stat), getattr(a, stat)
            assert (x is None) == (y is None), (key, stat)
            assert x is None or x == pytest.approx(y, rel=1e-4, abs=1e-6), (key, stat)
    rows = {r["method"]: r for r in local.summary["rows"]}
    for r in remote_summary["rows"]:
        assert r["accuracy"] == rows[r["method"]]["accuracy"], r["method"]
        assert r["mean_tokens"] == rows[r["method"]]["mean_tokens"], r["method"]


def test_chat_over_http_matches_in_process(model_host_url: str, embedded_backend: Any) -> None:
    messages = [{"role": "user", "content": "Name a colour."}]
    config = SamplingConfig(max_tokens=6, temperature=1.0)

    async def remote() -> list[Any]:
        backend = OpenAIBackend(base_url=model_host_url)
        try:
            return await backend.generate(messages, 3, config, seed=42)
        finally:
            await backend.aclose()

    there = asyncio.run(remote())
    here = asyncio.run(embedded_backend.generate(messages, 3, config, 42))
    assert [g.text for g in there] == [g.text for g in here]
    assert [g.usage.completion_tokens for g in there] == [g.usage.completion_tokens for g in here]
