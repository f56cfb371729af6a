"""`facts`: few-shot fact recall, the built-in demo task the embedded 270M model can partly do.

Families (country → capital, word → antonym, verb → past tense, ...) live in
``tasks/data/facts.json``, written by this project. Each family has a few-shot completion
prompt; the model's continuation is read up to the first newline and normalised (case,
accents, punctuation, a leading article), and each item may list aliases (several capitals,
several antonyms). The families were chosen by probing Gemma 3 270M: on each of them a
sampled answer is often wrong while the most frequent of eight is usually right, so
majority voting visibly beats a single sample — the point of a demo of test-time scaling.

Data file layout: ``{family: {"instruction": str, "template": "...{q}...",
"shots": [[q, a], ...], "items": [[q, a], [q, a, [alias, ...]], ...]}}``.
Problem ids are ``<family>-<index>`` so appending items never renames old problems.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from importlib.resources import files
from typing import Any

from ..errors import ConfigError, DataError
from ..types import Problem
from .base import Task

__all__ = ["FactsTask", "normalize_fact", "load_families"]

_SOURCE = "ttscale/tasks/data/facts.json"
_PUNCT = re.compile(r"[^\w\s'-]")
_ARTICLE = re.compile(r"^(the|a|an)\s+")
# a line break, or a control token the tokenizer decodes as text (the GGUF Gemma vocabulary
# spells "<start_of_image>" out, and the model sometimes emits it where a newline belongs)
_END = re.compile(r"\n|<[a-z][a-z_]*>")


def normalize_fact(text: str) -> str | None:
    """Canonical form of a short answer: first line, accents folded, lower case,
    punctuation and one leading article dropped, spaces collapsed; None when empty.

    Why so lenient: the base model writes " Paris.", "the Hague" or "Bogotá" for the same
    fact, and votes must merge them; anything after the first newline (or a control token
    such as ``<start_of_image>``) is the model starting the next few-shot block, not part
    of the answer."""
    line = _END.split(text.strip(), 1)[0].strip()
    line = unicodedata.normalize("NFKD", line).encode("ascii", "ignore").decode()
    line = _PUNCT.sub(" ", line.lower())
    line = _ARTICLE.sub("", line.strip())
    line = re.sub(r"\s+", " ", line).strip(" '-")
    return line or None


def _check_family(name: str, spec: Any) -> None:
    """Validate one family of the data file; errors name the family, row and field."""
    source = f"{_SOURCE}:{name}"
    if not isinstance(spec, dict):
        raise DataError("family must be an object", source=source)
    template = spec.get("template")
    if not isinstance(template, str) or "{q}" not in template:
        raise DataError("must be a string containing {q}", source=source, field="template")
    if not isinstance(spec.get("instruction", ""), str):
        raise DataError("must be a string", source=source, field="instruction")
    for key in ("shots", "items"):
        rows = spec.get(key)
        if not isinstance(rows, list) or not rows:
            raise DataError("must be a non-empty list", source=source, field=key)
        seen: set[str] = set()
        for i, row in enumerate(rows):
            ok = (isinstance(row, list) and len(row) in (2, 3) and all(isinstance(x, str) for x in row[:2])
                  and (len(row) == 2 or (isinstance(row[2], list) and all(isinstance(x, str) for x in row[2]))))
            if key == "shots":
                ok = ok and len(row) == 2
            if not ok:
                shape = "[question, answer]" if key == "shots" else "[question, answer] or [question, answer, [alias, ...]]"
                raise DataError(f"expected {shape}, got {row!r}", source=source, row=i, field=key)
            if any(normalize_fact(x) is None for x in [row[1], *(row[2] if len(row) == 3 else [])]):
                raise DataError(f"answer {row[1]!r} or an alias normalises to nothing", source=source, row=i, field=key)
            if row[0] in seen:
                raise DataError(f"duplicate question {row[0]!r}", source=source, row=i, field=key)
            seen.add(row[0])


def check_families(data: Any) -> dict[str, Any]:
    """Validate the whole data file (a mapping of family name → family)."""
    if not isinstance(data, dict) or not data:
        raise DataError("expected a non-empty object of families", source=_SOURCE)
    for name, spec in data.items():
        _check_family(name, spec)
    return data


@cache
def load_families() -> dict[str, Any]:
    """The shipped families, validated once per process (read-only: do not mutate)."""
    try:
        data = json.loads(files("ttscale.tasks").joinpath("data/facts.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"not valid JSON: {e}", source=_SOURCE) from e
    return check_families(data)


class FactsTask(Task):
    """Few-shot fact recall (capitals, antonyms, ...); answers are short lines.

    Options: ``families`` (list or comma-separated names; default all, in file order) and
    ``per_family`` (first K items of each). Problems are interleaved across families so
    any prefix (``--limit``) covers all of them about equally."""

    name = "facts"
    answer_type = "text"
    sampling_defaults = {"max_tokens": 8, "stop": ("\n",)}

    def __init__(self, families: list[str] | str | None = None, per_family: int | None = None,
                 **options: Any) -> None:
        super().__init__(**options)
        data = load_families()
        if isinstance(families, str):
            families = [f.strip() for f in families.split(",") if f.strip()]
        if families is not None and not isinstance(families, list | tuple):
            raise ConfigError("families", f"expected a list or comma-separated names, got {families!r}")
        self.families = list(families) if families else list(data)
        unknown = [f for f in self.families if f not in data]
        if unknown:
            raise ConfigError("families", f"unknown family {unknown[0]!r}; choose from {', '.join(data)}")
        if len(set(self.families)) != len(self.families):
            raise ConfigError("families", f"listed twice: {self.families}")
        if per_family is not None and (isinstance(per_family, bool) or not isinstance(per_family, int)):
            raise ConfigError("per_family", f"must be an integer, got {per_family!r}")
        if per_family is not None and per_family < 1:
            raise ConfigError("per_family", f"must be >= 1 (got {per_family})")
        self.per_family = per_family

    def load(self) -> list[Problem]:
        data = load_families()
        per_family = [self._family_problems(f, data[f]) for f in self.families]
        # interleave families so any prefix (--limit) covers all of them
        out: list[Problem] = []
        for i in range(max(len(x) for x in per_family)):
            out.extend(x[i] for x in per_family if i < len(x))
        return out

    def _family_problems(self, family: str, spec: dict[str, Any]) -> list[Problem]:
        template = spec["template"]
        head = spec.get("instruction", "") + "".join(
            template.format(q=q) + " " + a + "\n\n" for q, a in spec["shots"])
        items = spec["items"][: self.per_family] if self.per_family else spec["items"]
        out = []
        for i, (q, a, *rest) in enumerate(items):
            out.append(Problem(id=f"{family}-{i:03d}", prompt=head + template.format(q=q),
                               answers=[a, *(rest[0] if rest else [])], task=self.name,
                               answer_type="text", metadata={"family": family, "question": q}))
        return out

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        return normalize_fact(text)
