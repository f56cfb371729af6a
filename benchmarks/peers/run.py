"""Side-by-side: ttscale's proxy vs. optillm and its_hub, all in front of one loopback upstream.

Every system answers the same chat requests with self-consistency over the same instant
upstream (``upstream.py``: answers 12 / 7 / 30 drawn with probabilities 0.4 / 0.35 / 0.25,
recorded per question id), at concurrency 1, 8 and 32 and upstream latency 0 and 50 ms:

* ``direct``  — the upstream itself, one n=8 request (the ceiling; returns one sample, so its
  majority column is not meaningful);
* ``ttscale`` — ``ttscale serve --upstream`` with ``sc8/<model>``, math answer extraction;
* ``its_hub`` — ``its-iaas``, ``alg=self-consistency``, ``budget=8``, regex projection
  ``The answer is (\\w+)``;
* ``optillm`` — the ``optillm`` proxy with its ``self_consistency`` approach
  (``self_consistency-<model>``).

Measured per cell: requests/s, p50/p95 latency, proxy CPU seconds per request (the proxy
process and its children), peak RSS, and how often the returned answer is a true majority
(a most frequent answer; ties accept any tied one) of the samples the upstream drew for
that request. Peers run from their own venvs (``--peer-python``, see README.md); a peer that
is not installed there is reported as missing, with the reason.

    python benchmarks/peers/run.py --seconds 10
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

MODEL = "mock-model"
ANSWER_REGEX = r"The answer is (\w+)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


Started = tuple[subprocess.Popen[Any], str, Callable[[str], bytes]]


def start_direct(upstream: str, peer_python: str) -> Started:
    proc = subprocess.Popen(["sleep", "100000"])  # nothing to measure: a placeholder process
    return proc, upstream, harness.chat_body(MODEL, n=8)


def start_ttscale(upstream: str, peer_python: str) -> Started:
    proc, url = harness.start_ttscale(upstream, "--answer", "math")
    return proc, url, harness.chat_body(f"sc8/{MODEL}")


def find_exe(name: str, peer_python: str) -> str:
    """``name`` next to the first of the comma-separated interpreters that has it."""
    for python in peer_python.split(","):
        exe = Path(python).parent / name
        if exe.exists():
            return str(exe)
    raise RuntimeError(f"{name} not found next to {peer_python}")


def start_its_hub(upstream: str, peer_python: str) -> Started:
    try:
        exe = find_exe("its-iaas", peer_python)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc} (pip install 'its_hub[iaas]')") from None
    port = free_port()
    proc = subprocess.Popen([exe, "--host", "127.0.0.1", "--port", str(port), "--log-level", "WARNING"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/docs", proc)
    r = httpx.post(base + "/configure", timeout=30, json={
        "endpoint": upstream, "api_key": "unused", "model": MODEL, "alg": "self-consistency",
        "regex_patterns": [ANSWER_REGEX], "budget": 8})
    if r.status_code != 200:
        raise RuntimeError(f"its-iaas /configure failed: {r.status_code} {r.text[:300]}")
    return proc, base + "/v1", harness.chat_body(MODEL, extra={"budget": 8})


def start_optillm(upstream: str, peer_python: str) -> Started:
    try:
        exe = find_exe("optillm", peer_python)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc} (see README.md: uv pip install optillm)") from None
    port = free_port()
    env = {"OPENAI_API_KEY": "unused", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([exe, "--base-url", upstream, "--port", str(port), "--host", "127.0.0.1",
                             "--approach", "self_consistency"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/health", proc, timeout=300)
    return proc, base + "/v1", harness.chat_body(f"self_consistency-{MODEL}")


PEERS: dict[str, Callable[[str, str], Started]] = {
    "direct": start_direct, "ttscale": start_ttscale, "its_hub": start_its_hub, "optillm": start_optillm}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--latency-ms", default="0,50")
    ap.add_argument("--peers", default="direct,ttscale,its_hub,optillm")
    ap.add_argument("--peer-python", default="/work/peervenv/bin/python,/work/optvenv/bin/python",
                    help="the peers' interpreters, comma-separated; each peer runs from the first venv that has it")
    ap.add_argument("--json", action="store_true", help="also print one JSON object per cell")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    missing: dict[str, str] = {}
    for latency in [float(x) for x in args.latency_ms.split(",")]:
        up, up_url = harness.start_upstream(latency)
        try:
            for name in args.peers.split(","):
                if name in missing:
                    continue
                try:
                    proc, url, body = PEERS[name](up_url, args.peer_python)
                except (RuntimeError, OSError, httpx.HTTPError) as exc:
                    missing[name] = str(exc)
                    print(f"{name}: not run: {exc}", file=sys.stderr, flush=True)
                    continue
                try:
                    harness.run_load(url, "/chat/completions", body, 2, 1.0, keep=False)  # warm up
                    for c in [int(x) for x in args.concurrency.split(",")]:
                        harness.reset_upstream(up_url)
                        cpu0 = harness.cpu_seconds(proc.pid)
                        res = harness.run_load(url, "/chat/completions", body, c, args.seconds)
                        cpu = (harness.cpu_seconds(proc.pid) - cpu0) / max(1, res.requests)
                        rate, scored = harness.majority_rate(res, up_url)
                        calls = harness.upstream_stats(up_url)["calls"] / max(1, res.requests)
                        row = {"system": name, "latency_ms": latency, "concurrency": c, "rps": res.rps,
                               "p50_ms": res.pct(0.5) * 1000, "p95_ms": res.pct(0.95) * 1000,
                               "cpu_ms": cpu * 1000 if name != "direct" else None,
                               "rss_mb": harness.rss_mb(proc.pid) if name != "direct" else None,
                               "errors": res.errors, "majority": rate if name != "direct" else None,
                               "scored": scored, "upstream_calls_per_request": calls}
                        rows.append(row)
                        print(f"{name} {latency:g}ms C={c}: {res.rps:.0f} req/s, {res.errors} errors",
                              file=sys.stderr, flush=True)
                finally:
                    harness.stop(proc)
        finally:
            harness.stop(up)
    print("## proxy_peers\n")
    print(f"`python benchmarks/peers/run.py --seconds {args.seconds:g}`: self-consistency with 8 samples "
          "(optillm: its own `self_consistency` approach) in front of one instant loopback upstream "
          "with a known answer distribution; everything on this machine.\n")
    print("| system | upstream latency | clients | req/s | vs ttscale | p50 ms | p95 ms | CPU ms/req "
          "| RSS MB | upstream calls/req | errors | true majority |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ours = {(r["latency_ms"], r["concurrency"]): r["rps"] for r in rows if r["system"] == "ttscale"}
    for r in rows:
        base = ours.get((r["latency_ms"], r["concurrency"]))
        ratio = f"{r['rps'] / base:.2f}" if base else "-"
        fmt = (lambda v, f: "-" if v is None else format(v, f))  # noqa: E731
        maj = "-" if r["majority"] is None else f"{r['majority'] * 100:.1f}% of {r['scored']}"
        print(f"| {r['system']} | {r['latency_ms']:g} ms | {r['concurrency']} | {r['rps']:.0f} | {ratio} | "
              f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {fmt(r['cpu_ms'], '.2f')} | {fmt(r['rss_mb'], '.0f')} | "
              f"{r['upstream_calls_per_request']:.1f} | {r['errors']} | {maj} |")
    for name, why in missing.items():
        print(f"\n- `{name}` not measured: {why}")
    if args.json:
        for r in rows:
            print(json.dumps(r))


if __name__ == "__main__":
    main()
