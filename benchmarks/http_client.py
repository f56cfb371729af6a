"""Throughput and client CPU of the HTTP backend against an instant upstream on loopback.

The upstream is :mod:`ttscale.server.stub` in a *separate process* (so its CPU is not
counted), answering every request at once with a pre-rendered response (``--fixed``) of n
choices of 16 tokens, each with top-5 log-probs. Requests ask for n=8 samples of one prompt. For each concurrency (requests in
flight) this measures, in one run and against the same upstream:

* ``OpenAIBackend.generate`` — ttscale's backend: full parsing into Generations (log-prob
  sum/mean/min, top-k entropy and self-certainty, usage split), retries armed;
* ``openai SDK`` — the official ``AsyncOpenAI`` client (parses into its pydantic models);
* ``raw httpx`` — a bare ``httpx.AsyncClient`` POST + ``json.loads``: the floor any
  httpx-based client pays.

Samples/s = samples received / wall seconds; CPU/sample = this process's CPU seconds /
samples. Goal: ≥1,000 samples/s. Run: ``python benchmarks/http_client.py [--seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from ttscale.backends.openai import OpenAIBackend
from ttscale.config import SamplingConfig

N = 8
PROMPT = "Q: What is the capital of France?\nA:"
CONFIG = SamplingConfig(max_tokens=16, top_logprobs=5)
BODY = {"model": "stub", "prompt": PROMPT, "n": N, "max_tokens": 16, "temperature": 1.0,
        "top_p": 1.0, "logprobs": 5}


def start_upstream() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "ttscale.server.stub", "--port", "0", "--tokens", "16",
                             "--fixed"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.rsplit("listening on ", 1)[1].strip()


async def drive(call: Callable[[int], Awaitable[int]], concurrency: int, seconds: float) -> tuple[float, float]:
    """Run ``concurrency`` workers calling ``call`` for ``seconds``; (samples/s, CPU s/sample)."""
    for i in range(min(concurrency, 8)):  # warm connections
        await call(i)
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < stop:
            got = await call(w * 1_000_000 + i)  # (not `done += await ...`: that loses updates)
            done += got
            i += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return done / wall, cpu / max(done, 1)


async def bench_ttscale(url: str, concurrency: int, seconds: float) -> tuple[float, float]:
    backend = OpenAIBackend("stub", base_url=url, max_concurrency=concurrency)

    async def call(seed: int) -> int:
        return len(await backend.generate(PROMPT, N, CONFIG, seed))

    try:
        return await drive(call, concurrency, seconds)
    finally:
        await backend.aclose()


async def bench_openai_sdk(url: str, concurrency: int, seconds: float) -> tuple[float, float]:
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0,
                                http_client=httpx.AsyncClient(limits=httpx.Limits(
                                    max_connections=concurrency, max_keepalive_connections=concurrency)))

    async def call(seed: int) -> int:
        r = await client.completions.create(model="stub", prompt=PROMPT, n=N, max_tokens=16,
                                            logprobs=5, seed=seed)
        return len(r.choices)

    try:
        return await drive(call, concurrency, seconds)
    finally:
        await client.close()


async def bench_raw_httpx(url: str, concurrency: int, seconds: float) -> tuple[float, float]:
    client = httpx.AsyncClient(base_url=url, limits=httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency))

    async def call(seed: int) -> int:
        r = await client.post("/completions", content=json.dumps({**BODY, "seed": seed}),
                              headers={"Content-Type": "application/json"})
        return len(json.loads(r.content)["choices"])

    try:
        return await drive(call, concurrency, seconds)
    finally:
        await client.aclose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=4.0, help="measurement time per cell")
    p.add_argument("--concurrency", default="1,32,256")
    args = p.parse_args()
    proc, url = start_upstream()
    rows = []
    try:
        for c in (int(x) for x in args.concurrency.split(",")):
            ours = asyncio.run(bench_ttscale(url, c, args.seconds))
            sdk = asyncio.run(bench_openai_sdk(url, c, args.seconds))
            raw = asyncio.run(bench_raw_httpx(url, c, args.seconds))
            rows.append((c, ours, sdk, raw))
    finally:
        proc.terminate()
        proc.wait()
    load = os.getloadavg()[0]
    print(f"n={N} samples per request, 16 tokens with top-5 log-probs per sample, "
          f"{args.seconds:g} s per cell, upstream in a separate process on loopback, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end\n")
    print("| concurrency | ttscale samples/s | openai SDK samples/s | raw httpx samples/s "
          "| ttscale / SDK | ttscale / raw | ttscale CPU ms/sample | SDK CPU ms/sample | raw CPU ms/sample |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c, (o, oc), (s, sc), (r, rc) in rows:
        print(f"| {c} | {o:,.0f} | {s:,.0f} | {r:,.0f} | {o / s:.2f}× | {o / r:.2f}× "
              f"| {oc * 1e3:.3f} | {sc * 1e3:.3f} | {rc * 1e3:.3f} |")
    best = min(oc for _, (_, oc), _, _ in rows)
    print(f"\nttscale's client CPU per sample bounds it at {1 / best:,.0f} samples/s per "
          "fully available core (wall-clock rates above are limited by the CPU share this "
          "process actually gets, shared with the upstream and other jobs).")


if __name__ == "__main__":
    main()
