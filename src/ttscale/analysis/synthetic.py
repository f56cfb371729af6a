"""Synthetic sample banks with the statistics of real ones, for benchmarks and tests of the
analysis code at scales no model run here could produce.

Each problem has a latent difficulty; its samples answer correctly with a probability drawn
from a Beta distribution (so some problems are easy, some near chance, some hopeless),
wrong answers fall into a few Zipf-distributed classes (real wrong answers cluster), a few
samples give no answer, and the mean token log-probability and length carry a weak signal
of correctness (as in real reasoning traces), so verifier-free scorers have something to
find.
"""

from __future__ import annotations

import numpy as np

from ..tasks.base import Task
from ..types import Problem, Sample, Usage
from .simulate import BankData

__all__ = ["ExactTask", "synthetic_bank"]


class ExactTask(Task):
    """Answers are the stripped text; equality is string equality (no task data needed)."""

    name = "exact"

    def load(self) -> list[Problem]:
        return []

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        return text.strip() or None


def synthetic_bank(problems: int = 1000, samples: int = 64, *, seed: int = 0, prompt_tokens: int = 120,
                   model: str = "synthetic-7b") -> BankData:
    """A bank of ``problems`` × ``samples`` in stream ``main``; answers ``"a"`` (correct),
    ``"w1"``, ``"w2"``, ... (wrong) or no answer."""
    rng = np.random.default_rng(seed)
    task = ExactTask()
    probs: list[Problem] = []
    bank: dict[str, dict[str, list[Sample]]] = {}
    for p in range(problems):
        pid = f"q{p:05d}"
        p_correct = float(rng.beta(1.2, 0.8))
        n_wrong = int(rng.integers(1, 8))
        zipf = 1.0 / np.arange(1, n_wrong + 1) ** 1.3
        zipf /= zipf.sum()
        base_len = float(rng.integers(40, 400))
        out = []
        for i in range(samples):
            u = rng.random()
            if u < 0.03:
                answer = None
            elif u < 0.03 + 0.97 * p_correct:
                answer = "a"
            else:
                answer = f"w{int(rng.choice(n_wrong, p=zipf)) + 1}"
            ok = answer == "a"
            tokens = max(1, int(base_len * rng.lognormal(-0.1 if ok else 0.1, 0.3)))
            lp = float(rng.normal(-0.35 if ok else -0.55, 0.15))
            out.append(Sample(
                problem_id=pid, index=i, stream="main", text=answer or "", answer=answer,
                usage=Usage(prompt_tokens=prompt_tokens if i == 0 else 0, completion_tokens=tokens,
                            cached_prompt_tokens=0 if i == 0 else prompt_tokens),
                logprob_mean=lp, logprob_sum=lp * tokens, self_certainty_mean=float(rng.normal(2.0 if ok else 1.6, 0.4)),
                latency=tokens / 40.0, model=model))
        probs.append(Problem(id=pid, prompt=f"question {p}", answers=["a"], task="exact"))
        bank[pid] = {"main": out}
    return BankData.from_samples(task, probs, bank, model=model, source=f"synthetic:{problems}x{samples}")
