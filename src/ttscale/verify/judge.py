"""LLM-as-judge verifiers: P(True) and GenRM, with any backend as the judge.

**P(True)** (``judge``): the judge sees "Problem… Proposed solution… Is the proposed
solution correct (Yes/No)? Answer:" and the score is p(Yes) / (p(Yes) + p(No)), summed over
spellings (" Yes", "Yes", " yes", …). That needs the judge's next-token distribution: a
backend that offers ``next_token_logprobs(prompt, candidates) -> (dict, Usage)`` (the
embedded backend does; one prefill, no sampling) gives it exactly. Any other backend
(an OpenAI-compatible server, whose sample records keep only log-prob summaries) is asked
for ``samples`` short completions and the score is the fraction that say Yes (parsed
verdict; with ``samples=1`` at temperature 0 it is simply 0 or 1). ``Verdict.raw`` records
which way the score was obtained.

**GenRM** (``genrm``): V verification chains per solution ("Let's verify step by step"),
each ending in a verdict; score = mean verdict over the chains. A chain's verdict is
p(Yes) read after the chain when the backend exposes next-token log-probs, else the
Yes/No parsed from the chain (chains with no verdict are left out; none at all gives no
score). Every token the judge reads and writes is counted in ``Verdict.usage``, because
methods.md's compute C ∝ S·(1 + λV) is only honest with them.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from ..config import SamplingConfig, derive_seed
from ..errors import ConfigError, VerifierError
from ..types import Problem, Prompt, Sample, Usage, Verdict, prompt_text
from .base import Verifier

__all__ = ["JudgeVerifier", "GenRMVerifier", "parse_verdict", "p_true_from_logprobs",
           "YES", "NO", "JUDGE_TEMPLATE", "GENRM_TEMPLATE"]

YES = (" Yes", "Yes", " yes", "yes", " YES")
NO = (" No", "No", " no", "no", " NO")

JUDGE_TEMPLATE = (
    "Problem:\n{problem}\n\nProposed solution:\n{solution}\n\n"
    "Is the proposed solution correct (Yes/No)? Answer:"
)
GENRM_TEMPLATE = (
    "Problem:\n{problem}\n\nProposed solution:\n{solution}\n\n"
    "Let's verify the solution step by step, then say whether it is correct (Yes/No).\nVerification:"
)
GENRM_QUESTION = "\nIs the proposed solution correct (Yes/No)? Answer:"

_NEG = r"(?:no|incorrect|not\s+correct|wrong|false|invalid)"
_POS = r"(?:yes|correct|right|true|valid)"
_VERDICT = re.compile(rf"\b({_NEG}|{_POS})\b", re.IGNORECASE)


def parse_verdict(text: str) -> bool | None:
    """The judge's verdict in ``text``: an explicit "Answer: Yes/No" or "Verdict: ..."
    wins, else the *first* Yes/No-like word (judges answer first and ramble after).
    None when there is none."""
    m = re.search(rf"(?:answer|verdict|conclusion)\s*(?:is)?\s*[:\-]?\s*\**\s*({_NEG}|{_POS})\b",
                  text, re.IGNORECASE)
    if m is None:
        m = _VERDICT.search(text)
    if m is None:
        return None
    word = re.sub(r"\s+", " ", m.group(1).lower())
    return not re.fullmatch(_NEG, word)


def p_true_from_logprobs(logprobs: dict[str, float]) -> float | None:
    """p(Yes) / (p(Yes) + p(No)) from log-probs of Yes/No spellings (first tokens; distinct
    spellings that share a first token are counted once)."""
    yes = {lp for c, lp in logprobs.items() if c in YES}
    no = {lp for c, lp in logprobs.items() if c in NO}
    py = sum(math.exp(v) for v in yes)
    pn = sum(math.exp(v) for v in no)
    if py + pn <= 0:
        return None
    return py / (py + pn)


def _problem_text(problem: Problem) -> str:
    return str(problem.metadata.get("question") or prompt_text(problem.prompt)).strip()


class JudgeVerifier(Verifier):
    """P(True) judge. Options: ``backend`` (judge backend object or registered name; default:
    the run's backend), ``template`` (``{problem}``/``{solution}``), ``method``
    (``auto``: log-probs when available else parsed; ``logprobs``; ``parse``), ``samples``
    (completions per verdict when parsing), ``max_tokens``, ``temperature``, ``answer_only``
    (show only the extracted answer, not the whole solution), ``max_solution_chars``."""

    name = "judge"

    def __init__(self, task: Any = None, backend: Any = None, template: str = JUDGE_TEMPLATE,
                 method: str = "auto", samples: int = 1, max_tokens: int = 4, temperature: float = 0.0,
                 answer_only: bool = False, max_solution_chars: int = 4000, seed: int = 0,
                 concurrency: int = 4, **options: Any) -> None:
        super().__init__(task, **options)
        if method not in ("auto", "logprobs", "parse"):
            raise ConfigError("method", f"unknown method {method!r}; choose auto, logprobs or parse")
        if samples < 1:
            raise ConfigError("samples", "must be >= 1")
        if "{problem}" not in template or "{solution}" not in template:
            raise ConfigError("template", "must contain {problem} and {solution}")
        if isinstance(backend, str):
            from ..registry import backends
            backend = backends.create(backend)
        self.backend = backend
        self.template = template
        self.method = method
        self.samples = samples
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.answer_only = answer_only
        self.max_solution_chars = max_solution_chars
        self.seed = seed
        self.concurrency = concurrency

    # -- helpers
    def _judge(self, backend: Any) -> Any:
        judge = self.backend or backend
        if judge is None:
            raise VerifierError(f"verifier {self.name!r} needs a judge backend (none given and the run has none)")
        return judge

    def _solution(self, sample: Sample) -> str:
        if self.answer_only:
            return str(sample.answer if sample.answer is not None else sample.text.strip())
        text = sample.text.strip()
        return text[-self.max_solution_chars:]

    def _prompt(self, problem: Problem, sample: Sample) -> str:
        return self.template.format(problem=_problem_text(problem), solution=self._solution(sample))

    def _seed(self, problem: Problem, sample: Sample, tag: str) -> int:
        return derive_seed(self.seed, self.name, tag, problem.id, sample.stream, sample.index)

    def _uses_logprobs(self, judge: Any) -> bool:
        has = callable(getattr(judge, "next_token_logprobs", None))
        if self.method == "logprobs" and not has:
            raise VerifierError(f"judge backend {getattr(judge, 'model', judge)!r} does not expose "
                                "next-token log-probs; use method='parse'")
        return has and self.method != "parse"

    async def _p_true(self, judge: Any, prompt: Prompt) -> tuple[float | None, Usage]:
        lps, usage = await judge.next_token_logprobs(prompt, list(YES + NO))
        return p_true_from_logprobs(lps), usage

    async def _parsed(self, judge: Any, prompt: Prompt, n: int, max_tokens: int, temperature: float,
                      seed: int) -> tuple[list[bool | None], list[str], Usage]:
        config = SamplingConfig.build(temperature=temperature, max_tokens=max_tokens, logprobs=False)
        gens = await judge.generate(prompt, n, config, seed)
        return [parse_verdict(g.text) for g in gens], [g.text for g in gens], Usage.total([g.usage for g in gens])

    # -- scoring
    async def _score_one(self, problem: Problem, sample: Sample, judge: Any) -> Verdict:
        prompt = self._prompt(problem, sample)
        if self._uses_logprobs(judge):
            p, usage = await self._p_true(judge, prompt)
            return self.verdict(sample, score=p, label=None if p is None else ("yes" if p >= 0.5 else "no"),
                                usage=usage, raw=json.dumps({"method": "logprobs", "p_yes": p}))
        verdicts, texts, usage = await self._parsed(judge, prompt, self.samples, self.max_tokens,
                                                    self.temperature, self._seed(problem, sample, "judge"))
        got = [v for v in verdicts if v is not None]
        score = sum(got) / len(got) if got else None
        return self.verdict(sample, score=score,
                            label="unparsed" if score is None else ("yes" if score >= 0.5 else "no"),
                            usage=usage, raw=json.dumps({"method": "parse", "verdicts": verdicts,
                                                         "texts": [t[:200] for t in texts]}))

    async def score(self, problem: Problem, samples: Sequence[Sample], backend: Any = None) -> list[Verdict]:
        judge = self._judge(backend)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(s: Sample) -> Verdict:
            async with sem:
                return await self._score_one(problem, s, judge)

        return list(await asyncio.gather(*(one(s) for s in samples)))


class GenRMVerifier(JudgeVerifier):
    """Generative verifier: ``chains`` (V) verification chains per solution, score = mean
    verdict. Options as :class:`JudgeVerifier`, plus ``chains``; ``max_tokens`` bounds each
    chain and ``temperature`` (default 0.7) diversifies them."""

    name = "genrm"

    def __init__(self, task: Any = None, chains: int = 4, template: str = GENRM_TEMPLATE,
                 max_tokens: int = 256, temperature: float = 0.7, **options: Any) -> None:
        if chains < 1:
            raise ConfigError("chains", "must be >= 1")
        super().__init__(task, template=template, max_tokens=max_tokens, temperature=temperature, **options)
        self.chains = chains

    async def _score_one(self, problem: Problem, sample: Sample, judge: Any) -> Verdict:
        prompt = self._prompt(problem, sample)
        config = SamplingConfig.build(temperature=self.temperature, max_tokens=self.max_tokens, logprobs=False)
        gens = await judge.generate(prompt, self.chains, config, self._seed(problem, sample, "genrm"))
        usage = Usage.total([g.usage for g in gens])
        per_chain: list[float | None] = []
        method = "parse"
        if self._uses_logprobs(judge):
            method = "logprobs"
            for g in gens:
                p, u = await self._p_true(judge, prompt + g.text + GENRM_QUESTION)
                usage = usage + u
                per_chain.append(p)
        else:
            per_chain = [None if (v := parse_verdict(g.text)) is None else float(v) for g in gens]
        got = [p for p in per_chain if p is not None]
        score = sum(got) / len(got) if got else None
        return self.verdict(sample, score=score,
                            label="unparsed" if score is None else ("yes" if score >= 0.5 else "no"),
                            usage=usage, raw=json.dumps({"method": method, "chains": per_chain,
                                                         "texts": [g.text[:300] for g in gens]}))
