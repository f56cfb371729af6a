"""Throughput of the embedded backend against plain transformers, measured in one run.

    python benchmarks/embedded_throughput.py [--sizes 1,8,16] [--tokens 32] [--rounds 1]
                                             [--dtype auto] [--threads N] [--skip-cold]

For each N it times, on the same loaded model and prompt, with 32 new tokens and no stop:

* **ttscale**: ``HFBackend.generate_sync(prompt, N)`` — one prefill, KV cache shared by the
  N rows, custom decode loop that also computes full-distribution entropy/self-certainty;
* **generate**: ``model.generate(do_sample=True, num_return_sequences=N)`` (T=1, no top-k /
  top-p), the plain transformers way to draw N samples, on the same model (same dtype);
* **generate fp32**: the same on the model in float32, the dtype transformers gives a GGUF
  load by default (what a user gets without ttscale);
* **sequential**: N separate ``generate_sync(prompt, 1)`` calls of our backend.

Tokens/s counts the completion tokens each method actually produced. Each cell is the best of
``--rounds`` interleaved rounds. Load times: *cold* = a fresh process de-quantising the GGUF
into an empty cache, *warm* = a fresh process loading that cache (import + load, wall clock).
The table is printed and written under ``## embedded_throughput`` in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

PROMPT = "Once upon a time, in a small village at the edge of a great forest,"
RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "embedded_throughput"


def load_seconds(cache_dir: str, dtype: str, threads: int | None) -> float:
    """Wall time of a fresh process that imports ttscale and loads the model."""
    code = ("from ttscale.backends.hf import HFBackend; "
            f"HFBackend(dtype={dtype!r}, threads={threads!r}, cache_dir={cache_dir!r})")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def timed(fn: Any) -> tuple[float, int]:
    t0 = time.perf_counter()
    tokens = fn()
    return time.perf_counter() - t0, tokens


THREADS: set[int] = set()  # thread counts the backend picked during the runs


def run_ours(backend: Any, config: Any, n: int, seed: int) -> int:
    gens = backend.generate_sync(PROMPT, n, config, seed)
    THREADS.add(backend.last_threads)
    return sum(g.usage.completion_tokens for g in gens)


def run_sequential(backend: Any, config: Any, n: int, seed: int) -> int:
    return sum(run_ours(backend, config, 1, seed + i) for i in range(n))


def run_generate(backend: Any, n: int, tokens: int, seed: int, model: Any = None) -> int:
    import torch

    tok, model = backend.tokenizer, model if model is not None else backend.hf_model
    ids = tok(PROMPT, return_tensors="pt").input_ids
    torch.manual_seed(seed)
    torch.set_num_threads(backend.pick_threads())  # the same rule as ours, for a fair ratio
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True,
                             num_return_sequences=n, max_new_tokens=tokens, temperature=1.0,
                             top_k=0, top_p=1.0, pad_token_id=tok.pad_token_id)
    new = out[:, ids.shape[1]:]
    eos = backend.eos_ids
    count = 0
    for row in new.tolist():  # tokens up to and including the first EOS
        count += next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
    return count


def markdown(rows: list[dict[str, Any]], loads: dict[str, float], meta: str) -> str:
    lines = [meta, "",
             "| N | ttscale tok/s | generate tok/s | generate fp32 tok/s | sequential tok/s "
             "| ttscale / generate | ttscale / generate fp32 | ttscale / sequential |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['ours']:.1f} | {r['generate']:.1f} | {r['generate32']:.1f} "
                     f"| {r['sequential']:.1f} | {r['ours'] / r['generate']:.2f}× "
                     f"| {r['ours'] / r['generate32']:.2f}× | {r['ours'] / r['sequential']:.2f}× |")
    if loads:
        lines += ["", "| load | seconds |", "|---|---:|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in loads.items()]
        if "cold (de-quantise GGUF + write cache)" in loads and "warm (from cache)" in loads:
            cold, warm = loads["cold (de-quantise GGUF + write cache)"], loads["warm (from cache)"]
            lines.append(f"| cold / warm | {cold / warm:.1f}× |")
    return "\n".join(lines)


def write_section(body: str) -> None:
    """Replace (or append) this benchmark's own section of RESULTS.md, leaving others alone."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = f"## {SECTION}\n\n{body}\n"
    pattern = re.compile(rf"^## {SECTION}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1,8,16")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-cold", action="store_true", help="skip the ~1 min GGUF de-quantisation")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from ttscale.backends.hf import HFBackend, cache_root
    from ttscale.config import SamplingConfig

    loads: dict[str, float] = {}
    if not args.skip_cold:
        with tempfile.TemporaryDirectory(prefix="ttscale-bench-") as tmp:
            loads["cold (de-quantise GGUF + write cache)"] = load_seconds(tmp, args.dtype, args.threads)
    load_seconds(str(cache_root()), args.dtype, args.threads)  # make sure the real cache exists
    loads["warm (from cache)"] = load_seconds(str(cache_root()), args.dtype, args.threads)

    backend = HFBackend(dtype=args.dtype, threads=args.threads)
    config = SamplingConfig(temperature=1.0, max_tokens=args.tokens)
    fp32 = backend.hf_model
    if backend.dtype != "float32":  # what plain transformers gives for a GGUF: fp32
        import torch
        from transformers import AutoModelForCausalLM

        fp32 = AutoModelForCausalLM.from_pretrained(backend.cache_path, dtype=torch.float32).eval()
    backend.generate_sync(PROMPT, 2, config, seed=0)  # warm-up (allocator, kernels)
    load_before = os.getloadavg()[0]
    sizes = [int(s) for s in args.sizes.split(",")]
    best: dict[tuple[int, str], float] = {}
    for rnd in range(args.rounds):
        for n in sizes:
            seed = 1000 * rnd + n
            for name, fn in [("ours", partial(run_ours, backend, config, n, seed)),
                             ("generate", partial(run_generate, backend, n, args.tokens, seed)),
                             ("generate32", partial(run_generate, backend, n, args.tokens, seed,
                                                    fp32)),
                             ("sequential", partial(run_sequential, backend, config, n, seed))]:
                secs, toks = timed(fn)
                rate = toks / secs
                best[(n, name)] = max(best.get((n, name), 0.0), rate)
                print(f"round {rnd} N={n} {name}: {toks} tokens in {secs:.1f}s = {rate:.1f} tok/s",
                      file=sys.stderr, flush=True)
    rows = [{"n": n, **{k: best[(n, k)] for k in ("ours", "generate", "generate32", "sequential")}}
            for n in sizes]

    meta = (f"`python benchmarks/embedded_throughput.py` — Gemma 3 270M (Q4_K_M GGUF, "
            f"de-quantised), dtype {backend.dtype}, torch threads picked per call: "
            f"{sorted(THREADS)}, "
            f"{args.tokens} new tokens at T=1 with no stop, best of {args.rounds} round(s); "
            f"{os.cpu_count()} CPUs, load average {load_before:.1f} before and "
            f"{os.getloadavg()[0]:.1f} after the throughput runs (the machine is shared, so "
            "absolute rates are noisy; ratios are measured in the same run).")
    table = markdown(rows, loads, meta)
    print(table)
    if not args.no_write:
        write_section(table)
    asyncio_close(backend)


def asyncio_close(backend: Any) -> None:
    import asyncio

    asyncio.run(backend.aclose())


if __name__ == "__main__":
    main()
