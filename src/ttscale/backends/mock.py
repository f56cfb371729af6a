"""A scripted backend for deterministic tests of everything above the model.

For each prompt it samples an answer from a chosen distribution and renders it with a
template. Distributions are looked up by exact prompt text, then by any ``script`` key that
occurs in the prompt, then ``default``. Draws are seeded: the same (prompt, n, seed) always
gives the same generations, like a real seeded backend.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Mapping

from ..config import SamplingConfig, derive_seed
from ..errors import ConfigError
from ..types import Generation, Prompt, Usage, prompt_text

__all__ = ["MockBackend"]

Distribution = Mapping[str, float]


class MockBackend:
    """Scripted answers with chosen probabilities.

    ``script``: prompt (or substring) → {answer: probability}; ``template`` renders the
    text (``{answer}`` is replaced; the answer ``None`` renders ``no_answer_text``);
    ``logprob_means``: answer → mean token log-prob, to exercise likelihood-weighted rules;
    ``tokens``: completion tokens per sample (int or answer → int); ``responder``: a
    callable (prompt, rng) → text that overrides everything (for judge/aggregation tests);
    ``exact_logprobs``: report each sample's true sampling log-probability (the log of its
    answer's probability, since an answer always renders to the same text) and mark it
    ``sampled_logprob`` at temperature 1, as the embedded backend does."""

    def __init__(self, script: Mapping[str, Distribution] | None = None, *,
                 default: Distribution | None = None, template: str = "The answer is {answer}",
                 no_answer_text: str = "I am not sure.", logprob_means: Mapping[str, float] | None = None,
                 tokens: int | Mapping[str, int] = 10, latency: float = 0.0, model: str = "mock",
                 responder: Callable[[str, random.Random], str] | None = None,
                 exact_logprobs: bool = False) -> None:
        self.script = dict(script or {})
        self.default = dict(default or {"42": 1.0})
        for key, dist in [*self.script.items(), ("default", self.default)]:
            if not dist or any(p < 0 for p in dist.values()) or sum(dist.values()) <= 0:
                raise ConfigError(f"script[{key!r}]", "probabilities must be non-negative and sum > 0")
        self.template = template
        self.no_answer_text = no_answer_text
        self.logprob_means = dict(logprob_means or {})
        self.tokens = tokens
        self.latency = latency
        self.model = model
        self.responder = responder
        self.exact_logprobs = exact_logprobs and responder is None
        self.calls: list[tuple[str, int]] = []  # (prompt text, n), for tests

    def _dist(self, text: str) -> Distribution:
        if text in self.script:
            return self.script[text]
        for key, dist in self.script.items():
            if key in text:
                return dist
        return self.default

    async def generate(self, prompt: Prompt, n: int, config: SamplingConfig,
                       seed: int | None = None) -> list[Generation]:
        text = prompt_text(prompt)
        self.calls.append((text, n))
        if self.latency:
            await asyncio.sleep(self.latency)
        rng = random.Random(derive_seed(seed if seed is not None else 0, text, n))
        dist = self._dist(text)
        answers, probs = list(dist), list(dist.values())
        if config.greedy:  # greedy = the mode, deterministically
            mode = max(answers, key=lambda a: dist[a])
            picks = [mode] * n
        else:
            picks = rng.choices(answers, weights=probs, k=n)
        prompt_tokens = max(1, len(text.split()))
        out = []
        for i, ans in enumerate(picks):
            body = self.responder(text, rng) if self.responder else (
                self.no_answer_text if ans in ("None", "") else self.template.format(answer=ans))
            ntok = self.tokens if isinstance(self.tokens, int) else self.tokens.get(ans, 10)
            ntok = min(ntok, config.max_tokens)
            mean = self.logprob_means.get(ans, -0.5) + rng.gauss(0, 0.05)
            total = mean * ntok
            if self.exact_logprobs:  # the chance of this exact text: no-answer keys share one
                blank = ("None", "")
                same_text = sum(q for a, q in dist.items() if a in blank) if ans in blank else dist[ans]
                total = math.log(same_text / sum(probs))
                mean = total / ntok
            out.append(Generation(
                text=body, finish_reason="stop",
                usage=Usage(prompt_tokens=prompt_tokens if i == 0 else 0,
                            cached_prompt_tokens=0 if i == 0 else prompt_tokens,
                            completion_tokens=ntok),
                logprob_sum=total, logprob_mean=mean, logprob_min=mean - 1.0,
                sampled_logprob=self.exact_logprobs and config.temperature == 1.0,
                entropy_mean=-mean, self_certainty_mean=math.exp(mean),
                distribution="full", latency=self.latency, model=self.model, seed=seed))
        return out

    async def aclose(self) -> None:
        return None
