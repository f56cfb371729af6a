"""The proxy as a process: graceful shutdown finishes in-flight requests, a non-loopback
bind without a key is refused by the CLI, and ``--log-store`` records every decision."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "peers"))

import harness  # noqa: E402

CHAT = {"model": "sc4/mock-model", "messages": [{"role": "user", "content": "[q:s1] hi"}]}


def test_sigterm_finishes_in_flight_requests() -> None:
    up, up_url = harness.start_upstream(1500)
    proxy, url = harness.start_ttscale(up_url, "--answer", "math")
    try:
        result: dict[str, httpx.Response] = {}

        def call() -> None:
            result["r"] = httpx.post(url + "/chat/completions", json=CHAT, timeout=30)

        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.5)  # the request is now waiting on the upstream
        proxy.send_signal(signal.SIGTERM)
        t.join(30)
        assert result["r"].status_code == 200
        assert result["r"].json()["ttscale"]["samples"] == 4
        # uvicorn re-raises the signal once the in-flight work is done: a clean SIGTERM exit
        assert proxy.wait(30) in (0, -signal.SIGTERM)
    finally:
        harness.stop(proxy)
        harness.stop(up)


def test_cli_refuses_non_loopback_bind_without_key() -> None:
    out = subprocess.run([sys.executable, "-m", "ttscale", "serve", "--upstream", "http://127.0.0.1:9/v1",
                          "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--api-key" in out.stderr


def test_cli_rejects_a_bad_default_strategy() -> None:
    out = subprocess.run([sys.executable, "-m", "ttscale", "serve", "--upstream", "http://127.0.0.1:9/v1",
                          "--strategy", "sc:n=-1", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "strategy" in out.stderr


def test_log_store_records_decisions_for_report(tmp_path: Path) -> None:
    from ttscale.store import Store

    up, up_url = harness.start_upstream(0)
    proxy, url = harness.start_ttscale(up_url, "--answer", "math", "--log-store", str(tmp_path))
    try:
        for i in range(3):
            body = {**CHAT, "messages": [{"role": "user", "content": f"[q:l{i}] hi"}]}
            assert httpx.post(url + "/chat/completions", json=body, timeout=30).status_code == 200
    finally:
        harness.stop(proxy)  # graceful: pending log writes are flushed
        harness.stop(up)
    store = Store(tmp_path, readonly=True)
    decisions = store.decisions()
    assert len(decisions) == 3 and all(d.samples_used == 4 for d in decisions)
    assert store.count_samples() == 12 and len(store.problems()) == 3
    assert store.decision_labels() == ["sc:n=4"]
