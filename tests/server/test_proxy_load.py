"""A bounded load test: 200 concurrent clients against the proxy (a real ``ttscale serve
--upstream`` process) over the instant upstream: zero errors, every answer the true majority
of the samples drawn, and the p95 latency the proxy adds over calling the upstream directly
is reported. The full 60-second version is ``benchmarks/proxy_load.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "peers"))

import harness  # noqa: E402

CLIENTS = 200
PER_CLIENT = 3


def test_200_concurrent_clients_zero_errors() -> None:
    up, up_url = harness.start_upstream(0)
    proxy, url = harness.start_ttscale(up_url, "--answer", "math", "--max-n", "8")
    try:
        direct = harness.run_load(up_url, "/chat/completions", harness.chat_body("mock-model", n=8),
                                  CLIENTS, 120, max_requests=PER_CLIENT, keep=False)
        harness.reset_upstream(up_url)
        via = harness.run_load(url, "/chat/completions", harness.chat_body("sc8/mock-model"),
                               CLIENTS, 120, max_requests=PER_CLIENT)
        assert direct.errors == 0
        assert via.errors == 0 and via.requests == CLIENTS * PER_CLIENT, via.statuses
        rate, scored = harness.majority_rate(via, up_url)
        assert scored == CLIENTS * PER_CLIENT and rate == 1.0
        added = (via.pct(0.95) - direct.pct(0.95)) * 1000
        print(f"\n200 clients x {PER_CLIENT}: proxy p95 {via.pct(0.95) * 1000:.0f} ms, direct p95 "
              f"{direct.pct(0.95) * 1000:.0f} ms, added p95 {added:.0f} ms, {via.rps:.0f} req/s")
    finally:
        harness.stop(proxy)
        harness.stop(up)
