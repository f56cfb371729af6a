"""Load benchmark of the strategy proxy (``ttscale serve --upstream``) over an instant upstream.

For each upstream latency (0 and 50 ms) and client concurrency (32 and 200), measured in one
run: calling the upstream directly with the same n=8 request the proxy sends, then the same
load through the proxy with ``sc8/<model>``. Prints requests/s, p50/p95 latency, the p95 the
proxy adds, the proxy's CPU per request and how often its answer is the true majority of
the samples the upstream drew, with proxy/direct ratios.

    python benchmarks/proxy_load.py                 # 10 s per cell
    python benchmarks/proxy_load.py --seconds 60    # the full 60-second run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))

import harness  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", default="32,200")
    ap.add_argument("--latency-ms", default="0,50")
    args = ap.parse_args()
    rows = []
    for latency in [float(x) for x in args.latency_ms.split(",")]:
        up, up_url = harness.start_upstream(latency)
        proxy, url = harness.start_ttscale(up_url, "--answer", "math", "--max-n", "8")
        try:
            for c in [int(x) for x in args.concurrency.split(",")]:
                harness.run_load(up_url, "/chat/completions", harness.chat_body("mock-model", n=8), c, 1.0,
                                 keep=False)
                direct = harness.run_load(up_url, "/chat/completions", harness.chat_body("mock-model", n=8),
                                          c, args.seconds, keep=False)
                harness.run_load(url, "/chat/completions", harness.chat_body("sc8/mock-model"), c, 1.0, keep=False)
                harness.reset_upstream(up_url)
                cpu0 = harness.cpu_seconds(proxy.pid)
                via = harness.run_load(url, "/chat/completions", harness.chat_body("sc8/mock-model"), c, args.seconds)
                cpu = (harness.cpu_seconds(proxy.pid) - cpu0) / max(1, via.requests)
                rate, scored = harness.majority_rate(via, up_url)
                rows.append((latency, c, direct, via, cpu, rate, scored))
                print(f"latency {latency:g} ms, C={c}: direct {direct.rps:.0f} req/s, proxy {via.rps:.0f} req/s "
                      f"({via.errors} errors), cpu {cpu * 1000:.2f} ms/req", file=sys.stderr, flush=True)
        finally:
            harness.stop(proxy)
            harness.stop(up)
    print("## proxy_load\n")
    print(f"`python benchmarks/proxy_load.py --seconds {args.seconds:g}`: `sc8/<model>` through the proxy vs. "
          "the same n=8 request sent to the upstream directly; instant loopback upstream "
          "(`benchmarks/peers/upstream.py`), keep-alive load clients, all on this machine.\n")
    print("| upstream latency | clients | direct req/s | proxy req/s | ratio | direct p95 ms | proxy p50 ms "
          "| proxy p95 ms | added p95 ms | proxy CPU ms/req | errors | true majority |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for latency, c, direct, via, cpu, rate, scored in rows:
        print(f"| {latency:g} ms | {c} | {direct.rps:.0f} | {via.rps:.0f} | {via.rps / direct.rps:.2f} | "
              f"{direct.pct(0.95) * 1000:.1f} | {via.pct(0.5) * 1000:.1f} | {via.pct(0.95) * 1000:.1f} | "
              f"{(via.pct(0.95) - direct.pct(0.95)) * 1000:.1f} | {cpu * 1000:.2f} | {via.errors} | "
              f"{rate * 100:.1f}% of {scored} |")


if __name__ == "__main__":
    main()
