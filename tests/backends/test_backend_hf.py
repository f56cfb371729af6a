"""The embedded backend on the real Gemma 3 270M: one prefill per call, honest accounting,
exact distribution statistics, seeded determinism, stop strings, clear load errors."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

from ttscale.config import SamplingConfig
from ttscale.errors import ConfigError

CAPITALS = "Country: Germany\nCapital: Berlin\n\nCountry: Japan\nCapital: Tokyo\n\nCountry: France\nCapital:"


def _run(backend: Any, prompt: Any, n: int, seed: int | None = 0, **cfg: Any) -> list[Any]:
    return asyncio.run(backend.generate(prompt, n, SamplingConfig(**cfg), seed=seed))


@pytest.mark.model
def test_n_samples_share_one_prefill(embedded_backend: Any) -> None:
    """N continuations cost one forward pass over the prompt, then one-token steps only."""
    prompt_len = len(embedded_backend.tokenizer(CAPITALS).input_ids)
    shapes: list[tuple[int, int]] = []
    hook = embedded_backend.hf_model.register_forward_pre_hook(
        lambda _m, _a, kw: shapes.append(tuple(kw["input_ids"].shape)), with_kwargs=True)
    try:
        gens = _run(embedded_backend, CAPITALS, 4, seed=3, max_tokens=6)
    finally:
        hook.remove()
    assert len(gens) == 4
    assert shapes[0] == (1, prompt_len)  # the prompt, once, batch 1
    assert all(seq == 1 and batch <= 4 for batch, seq in shapes[1:])
    assert len(shapes) <= 6  # no forward after the last token
    # usage: the shared prompt is counted once, the other samples mark it cached
    assert gens[0].usage.prompt_tokens == prompt_len and gens[0].usage.cached_prompt_tokens == 0
    for g in gens[1:]:
        assert g.usage.prompt_tokens == 0 and g.usage.cached_prompt_tokens == prompt_len
    for g in gens:
        assert 1 <= g.usage.completion_tokens <= 6
        assert g.finish_reason in ("stop", "length")
        if g.finish_reason == "length":
            assert g.usage.completion_tokens == 6
        assert g.model == embedded_backend.model and g.seed == 3 and g.distribution == "full"


@pytest.mark.model
def test_same_seed_same_samples(embedded_backend: Any) -> None:
    a = _run(embedded_backend, "Once upon a time", 3, seed=11, max_tokens=8)
    b = _run(embedded_backend, "Once upon a time", 3, seed=11, max_tokens=8)
    c = _run(embedded_backend, "Once upon a time", 3, seed=12, max_tokens=8)
    key = [(g.text, g.logprob_sum, g.entropy_mean) for g in a]
    assert key == [(g.text, g.logprob_sum, g.entropy_mean) for g in b]
    assert [g.text for g in a] != [g.text for g in c]


@pytest.mark.model
def test_stop_string_truncates_and_ends_the_row(embedded_backend: Any) -> None:
    gens = _run(embedded_backend, CAPITALS, 4, seed=5, max_tokens=16, stop=("\n",))
    for g in gens:
        assert "\n" not in g.text
        assert g.finish_reason == "stop"
        assert g.usage.completion_tokens < 16


@pytest.mark.model
def test_greedy_rows_identical_and_facts_answer_short(embedded_backend: Any) -> None:
    gens = _run(embedded_backend, "Country: France\nCapital:", 3, temperature=0.0,
                max_tokens=4, stop=("\n",))
    assert len({(g.text, g.logprob_sum) for g in gens}) == 1
    assert "Paris" in gens[0].text
    # top-k=1 and a tiny nucleus leave only the argmax: sampling collapses to greedy
    for cut in ({"top_k": 1}, {"top_p": 1e-6}):
        sampled = _run(embedded_backend, "Country: France\nCapital:", 2, seed=9,
                       max_tokens=4, stop=("\n",), **cut)
        assert {g.text for g in sampled} == {gens[0].text}


@pytest.mark.model
def test_distribution_statistics_match_a_direct_computation(embedded_backend: Any) -> None:
    """One greedy step: entropy, self-certainty and log-prob equal what the logits say."""
    import torch

    (g,) = _run(embedded_backend, CAPITALS, 1, temperature=0.0, max_tokens=1)
    ids = torch.tensor([embedded_backend.tokenizer(CAPITALS).input_ids])
    with torch.inference_mode():
        logits = embedded_backend.hf_model(input_ids=ids).logits[0, -1].float()
    logp = torch.log_softmax(logits, -1)
    entropy = float(-(logp.exp() * logp).sum())
    certainty = float(-logp.mean() - math.log(logp.numel()))
    assert g.entropy_mean == pytest.approx(entropy, rel=1e-3, abs=1e-3)
    assert g.self_certainty_mean == pytest.approx(certainty, rel=1e-3)
    assert g.logprob_sum == pytest.approx(float(logp.max()), abs=1e-3)

    for g in _run(embedded_backend, "Once upon a time", 4, seed=2, max_tokens=8,
                  temperature=1.3, top_p=0.9, top_k=50):
        stats = [g.logprob_sum, g.logprob_mean, g.logprob_min, g.entropy_mean,
                 g.self_certainty_mean]
        assert all(s is not None and math.isfinite(s) for s in stats)
        assert g.logprob_min <= g.logprob_mean <= 0.0
        assert g.logprob_sum == pytest.approx(g.logprob_mean * g.usage.completion_tokens)
        assert g.entropy_mean >= 0.0 and g.self_certainty_mean >= 0.0


@pytest.mark.model
def test_chat_prompt_and_concurrent_callers(embedded_backend: Any) -> None:
    async def both() -> list[list[Any]]:
        cfg = SamplingConfig(max_tokens=3)
        return await asyncio.gather(
            embedded_backend.generate([{"role": "user", "content": "Say hi."}], 2, cfg, seed=1),
            embedded_backend.generate("Hello", 1, cfg, seed=1))

    chat, plain = asyncio.run(both())
    assert len(chat) == 2 and len(plain) == 1


@pytest.mark.model
def test_cache_is_a_loadable_model_directory(embedded_backend: Any) -> None:
    """The de-quantised cache is complete (no temp leftovers) and loads as a plain HF dir."""
    from ttscale.backends.hf import HFBackend

    path = Path(embedded_backend.cache_path)
    assert (path / "ttscale.json").is_file() and (path / "model.safetensors").is_file()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]
    other = HFBackend(str(path), dtype=embedded_backend.dtype)
    try:
        assert other.model == str(path)
        kw = dict(temperature=0.0, max_tokens=3)
        assert _run(other, CAPITALS, 1, **kw)[0].text == _run(embedded_backend, CAPITALS, 1, **kw)[0].text
    finally:
        asyncio.run(other.aclose())


def test_bad_model_and_options_name_the_field(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from ttscale.backends.hf import HFBackend

    not_gguf = tmp_path / "weights.bin"
    not_gguf.write_bytes(b"x")
    corrupt = tmp_path / "broken.gguf"
    corrupt.write_bytes(b"not a gguf file")
    for model, words in [(str(tmp_path / "missing"), "does not exist"),
                         (str(tmp_path), "config.json"), (str(not_gguf), ".gguf"),
                         (str(corrupt), "could not load")]:
        with pytest.raises(ConfigError, match=words) as info:
            HFBackend(model, cache_dir=str(tmp_path / "cache"))
        assert info.value.field == "model"
    with pytest.raises(ConfigError) as info:
        HFBackend(dtype="int3")
    assert info.value.field == "dtype"
    with pytest.raises(ConfigError) as info:
        HFBackend(threads=0)
    assert info.value.field == "threads"


def test_killed_cache_write_leaves_no_cache(tmp_path: Path) -> None:
    """A first load that dies while writing the cache leaves neither a cache nor debris."""
    pytest.importorskip("torch")
    from ttscale.backends.hf import _Source, _write_cache

    class Saves:
        def __init__(self, fail: bool) -> None:
            self.fail, self.config = fail, type("Cfg", (), {})()

        def save_pretrained(self, path: Path) -> None:
            if self.fail:
                raise KeyboardInterrupt  # stands in for the process being killed
            (Path(path) / "model.safetensors").write_bytes(b"w")

    target = tmp_path / "models" / "abc-v1"
    source = _Source("m", "gguf", path=tmp_path / "m.gguf", sha256="abc")
    with pytest.raises(KeyboardInterrupt):
        _write_cache(Saves(False), Saves(True), target, source, tmp_path / "m.gguf")
    assert list(target.parent.iterdir()) == []
    _write_cache(Saves(False), Saves(False), target, source, tmp_path / "m.gguf")
    assert sorted(p.name for p in target.iterdir()) == ["model.safetensors", "ttscale.json"]
    assert list(target.parent.iterdir()) == [target]


def test_n_must_be_positive_before_any_work() -> None:
    pytest.importorskip("torch")
    from ttscale.backends.hf import HFBackend

    backend = object.__new__(HFBackend)  # no model needed: n is checked first
    with pytest.raises(ConfigError) as info:
        asyncio.run(backend.generate("x", 0, SamplingConfig()))
    assert info.value.field == "n"


@pytest.mark.model
def test_sampled_logprob_is_the_chance_of_drawing_the_completion(embedded_backend: Any) -> None:
    """At T=1 exp(logprob_sum) is how often the exact completion comes back (what voi's seen
    mass rests on); at any other temperature the flag is off."""
    from collections import Counter

    n = 64
    gens = _run(embedded_backend, CAPITALS, n, seed=5, max_tokens=3, stop=["\n"])
    assert all(g.sampled_logprob for g in gens)
    text, hits = Counter(g.text for g in gens).most_common(1)[0]
    p = max(math.exp(g.logprob_sum) for g in gens if g.text == text)
    assert abs(hits / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 0.03, (text, hits, p)
    assert not any(g.sampled_logprob for g in _run(embedded_backend, CAPITALS, 2, seed=5, max_tokens=3,
                                                   temperature=0.7))
    assert not _run(embedded_backend, CAPITALS, 1, max_tokens=2, temperature=0.0)[0].sampled_logprob
