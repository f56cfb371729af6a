"""`facts`: few-shot fact recall, the built-in demo task the embedded 270M model can partly do.

Families (country → capital, word → antonym, ...) live in ``tasks/data/facts.json``, written
by this project. Each family has a few-shot completion prompt; the model's continuation is
read up to the first newline and normalised (case, punctuation, articles), and each item
may list aliases. Sampling varies enough on these families that majority voting visibly
beats a single sample — which is the point of a demo of test-time scaling.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from importlib.resources import files
from typing import Any

from ..errors import ConfigError
from ..types import Problem
from .base import Task

__all__ = ["FactsTask", "normalize_fact", "load_families"]

_PUNCT = re.compile(r"[^\w\s'-]")


def normalize_fact(text: str) -> str | None:
    """First line, accents folded, lower case, punctuation and a leading article dropped."""
    line = text.strip().split("\n", 1)[0].strip()
    line = unicodedata.normalize("NFKD", line).encode("ascii", "ignore").decode()
    line = _PUNCT.sub(" ", line.lower())
    line = re.sub(r"^(the|a|an)\s+", "", line.strip())
    line = re.sub(r"\s+", " ", line).strip(" '-")
    return line or None


@cache
def load_families() -> dict[str, Any]:
    return json.loads(files("ttscale.tasks").joinpath("data/facts.json").read_text())


class FactsTask(Task):
    """Few-shot fact recall (capitals, antonyms, ...); answers are short lines."""

    name = "facts"
    answer_type = "text"
    sampling_defaults = {"max_tokens": 8, "stop": ("\n",)}

    def __init__(self, families: list[str] | str | None = None, per_family: int | None = None,
                 **options: Any) -> None:
        super().__init__(**options)
        data = load_families()
        if isinstance(families, str):
            families = [f.strip() for f in families.split(",") if f.strip()]
        self.families = families or list(data)
        unknown = [f for f in self.families if f not in data]
        if unknown:
            raise ConfigError("families", f"unknown family {unknown[0]!r}; choose from {', '.join(data)}")
        if per_family is not None and per_family < 1:
            raise ConfigError("per_family", "must be >= 1")
        self.per_family = per_family
        self._aliases: dict[str, set[str]] = {}

    def load(self) -> list[Problem]:
        data = load_families()
        per_family = [self._family_problems(f, data[f]) for f in self.families]
        # interleave families so any prefix (--limit) covers all of them
        out: list[Problem] = []
        for i in range(max(len(x) for x in per_family)):
            out.extend(x[i] for x in per_family if i < len(x))
        return out

    def _family_problems(self, family: str, spec: dict[str, Any]) -> list[Problem]:
        shots = "".join(spec["template"].format(q=q) + " " + a + "\n\n" for q, a in spec["shots"])
        items = spec["items"][: self.per_family] if self.per_family else spec["items"]
        out = []
        for i, item in enumerate(items):
            q, a, *rest = item
            aliases = [a, *(rest[0] if rest else [])]
            prompt = spec.get("instruction", "") + shots + spec["template"].format(q=q)
            out.append(Problem(id=f"{family}-{i:03d}", prompt=prompt, answers=aliases, task=self.name,
                               answer_type="text", metadata={"family": family, "question": q}))
        return out

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        return normalize_fact(text)

    def is_correct(self, answer: str | None, problem: Problem) -> bool | None:
        if not problem.answers:
            return None
        if answer is None:
            return False
        refs = {normalize_fact(a) for a in problem.answers}
        return answer in refs
