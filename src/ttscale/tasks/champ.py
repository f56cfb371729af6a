"""`champ`: the CHAMP competition-math dataset and its real model responses as a replay bank.

CHAMP (Mao, Kim & Zhou, 2024; shipped by the ``champ-dataset`` package, read through it)
has 270 problems (number theory, polynomials, sequences, inequalities, combinatorics), each
answered by GPT-3.5, GPT-4, GPT-4 Turbo and PaLM 2 Medium under 18 prompt settings
(0-shot, 5-shot, partial solutions, with/without concepts and hints, misleading concepts):
72 real responses per problem. Every response ends with the model's one-sentence summary
of its final answer (the dataset's own second turn), which is what answers are read from.

**These are not i.i.d. samples.** The 18 responses of one model come from 18 *different
prompts*, at whatever temperature the authors used, so voting over them is prompt-ensemble
voting, not self-consistency over one sampling distribution; and the 72 responses mix four
models. Estimators that assume exchangeable samples (maj@k over random k-subsets) are
still exact *for this bank*, but their numbers mean "vote over k random (model, prompt)
settings", and must not be read as a model's SC@k. The bank's meta records this.

Grading is automatic here (the paper graded final answers with a GPT-4 judge and human
checks): gold answers are split into their equivalent forms (``@@C(10, 5)@@, or
equivalently @@252@@``), and a summary sentence is read by :func:`champ_extract`, which uses
the *kind* of the gold answer (yes/no, "no such values", or a math expression) — never its
value — to decide what to look for. Token counts are not in the dataset; they are
estimated as characters / 4 and marked so (``metadata["tokens_estimated"]``).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from ..errors import MissingDependencyError
from ..types import Problem, Sample, Usage
from .base import AnswerTask

__all__ = ["ChampTask", "champ_extract", "merge_answers", "could_be_equal", "gold_variants", "answer_kind", "MODELS", "SETTINGS",
           "model_slug", "champ_samples", "NOT_IID_NOTE", "SUMMARY_MARKER"]

MODELS = ("GPT-3.5", "GPT-4", "GPT-4 Turbo", "PaLM 2 Medium")
SETTINGS = ("0-Shot", "5-Shot", "1/3 Soln", "2/3 Soln", "No C w/o H", "No C w/ H", "Direct C w/o H",
            "Direct C w/ H", "Root C w/o H", "Root C w/ H", "Name C w/o H", "Name C w/ H",
            "Example C w/o H", "Example C w/ H", "Problem C w/o H", "Problem C w/ H",
            "Misleading C w/o H", "Misleading C w/ H")
SUMMARY_MARKER = "\n\nFinal answer (summary): "
NOT_IID_NOTE = ("CHAMP responses are not i.i.d. samples: each model answered each problem once under "
                "each of 18 different prompt settings, and the bank mixes 4 models. Voting over them "
                "is prompt/model-ensemble voting; maj@k is the exact expectation over random k-subsets "
                "of these (model, prompt) responses, not a model's self-consistency at temperature T.")


def model_slug(model: str) -> str:
    """``"GPT-4 Turbo"`` → ``"gpt-4-turbo"`` (bank and stream names)."""
    return re.sub(r"[^a-z0-9.]+", "-", model.lower()).strip("-")


@cache
def _dataset() -> Any:
    try:
        import champ_dataset
    except ImportError:
        raise MissingDependencyError("the champ task", "data") from None
    return champ_dataset.load("v0")


# --- gold answers ----------------------------------------------------------------------------

_SPAN = re.compile(r"@@(.+?)@@")
_IE = re.compile(r"\s*\(i\.e\.,?[^)]*\)")


def gold_variants(raw: str) -> list[str]:
    """Equivalent spellings of a CHAMP gold answer: ``@@C(10, 5)@@, or equivalently
    @@252@@`` → ``["C(10, 5)", "252"]``; ``100 (i.e., all values)`` → ``["100"]``;
    ``0 is the only possible value`` → ``["0"]``; plain text stays as it is."""
    parts = re.split(r",?\s*or equivalently\s*", raw)
    out: list[str] = []
    for part in parts:
        spans = _SPAN.findall(part)
        bare = _SPAN.sub(lambda m: m.group(1), part).strip()
        if len(spans) == 1:  # "The limit exists and is equal to @@(a+3b)/2@@": the span is the answer
            out.append(spans[0].strip())
            continue
        bare = _IE.sub("", bare).strip()
        m = re.fullmatch(r"(-?[\w^()+\-*/.]+) is the only possible value", bare)
        if m:
            bare = m.group(1)
        m = re.fullmatch(r"(-?\d+) (?:pairs?|inequalities|integers?|values?|numbers?|solutions?)", bare)
        if m:
            bare = m.group(1)
        out.append(bare)
    return [v for v in dict.fromkeys(out) if v]


def answer_kind(variants: list[str]) -> str:
    """``yesno`` (Yes/No), ``none`` ("No such values", "does not exist", "No integer
    solutions"), or ``math`` (anything else: numbers, expressions, statements)."""
    first = variants[0].strip().lower() if variants else ""
    if first in ("yes", "no"):
        return "yesno"
    if re.match(r"^no\b|does not exist|^none\b|no such", first):
        return "none"
    return "math"


# --- reading a summary sentence ------------------------------------------------------------

_MATH_SPAN = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]|\$\$(.+?)\$\$|\$(.+?)\$", re.DOTALL)
_NEG = re.compile(r"\b(?:no|not|cannot|can't|none|never|impossible|neither|nor)\b|n't\b", re.IGNORECASE)
_CUT = re.compile(r",\s*(?:which|where|when|achieved|attained|because|since|as|so|and\s+this|with|for\s+all|"
                  r"occurring|given|i\.e\.)\b|\s+(?:because|since|which|where|when|achieved|attained|"
                  r"occurring|if\s+and\s+only\s+if)\b|\.\s*$", re.IGNORECASE)
_VERB = re.compile(r"\s(?:is|are|equals?|was|be|becomes|gives|has|have)\s+(?:equal\s+to\s+|exactly\s+|given\s+by\s+|"
                   r"simply\s+|always\s+|just\s+)?|\s*(?<![<>!])=(?!=)\s*|\s*(?:≡|\\equiv)\s*", re.IGNORECASE)
_THERE = re.compile(r"^there\s+(?:are|is|exist|exists)\s+(?:exactly\s+|only\s+)?(\S+)", re.IGNORECASE)


def _summary(text: str) -> str:
    return text.rsplit(SUMMARY_MARKER, 1)[-1].strip() if SUMMARY_MARKER in text else text.strip()


def _delatex(s: str) -> str:
    """Drop inline-math delimiters, keeping their content."""
    return _MATH_SPAN.sub(lambda m: next(g for g in m.groups() if g is not None), s)


def _main_expression(sentence: str) -> str | None:
    """The expression a summary sentence states as its answer: the boxed value; else what
    follows the last "is/are/=/≡" of the main clause (before ", which…", " because…");
    else the count in "There are N …". When the main clause has no such verb (it was cut at
    "when"/"where"), the last verb of the whole sentence is used."""
    from ..verify.extract import extract_boxed

    boxed = extract_boxed(sentence)
    if boxed:
        return boxed
    s = _delatex(sentence).strip()
    m = _THERE.match(s)
    if m and re.fullmatch(r"-?\d+|one|two|three|four|five|six|seven|eight|nine|ten|infinitely", m.group(1)):
        return m.group(1)
    head = _CUT.split(s, maxsplit=1)[0]
    found = list(_VERB.finditer(head))
    if not found:  # "The remainder when p(x^7) is divided by p(x), where ..., is 7."
        head = s
        found = list(_VERB.finditer(s))
        if not found:
            return None
    tail = _CUT.split(head[found[-1].end():], maxsplit=1)[0].strip().rstrip(".")
    tail = re.sub(r"^(?:the\s+)?(?:number|value|answer)\s+", "", tail, flags=re.IGNORECASE)
    tail = re.sub(r"\s*(?:\\pmod\s*\{[^}]*\}|\\pmod\s*\S+|\(\s*mod\s+[^)]*\)|\bmod(?:ulo)?\s+\S+)\s*$", "", tail,
                  flags=re.IGNORECASE)
    tail = re.sub(r"\s+(?:ways?|pairs?|strings?|values?|solutions?|integers?|numbers?|terms?|"
                  r"permutations?|sequences?|elements?|subsets?)\b.*$", "", tail, flags=re.IGNORECASE)
    return tail.strip() or None


_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
          "seven": "7", "eight": "8", "nine": "9", "ten": "10", "infinitely": "\\infty"}


def champ_extract(text: str, kind: str = "math") -> str | None:
    """The canonical answer of a CHAMP response (read from its summary sentence).

    ``kind`` (from :func:`answer_kind` of the gold answer) says what to look for:
    ``yesno`` → "yes"/"no" (a leading Yes/No, else negation words mean "no");
    ``none`` → "none" when the sentence denies existence, else the stated expression;
    ``math`` → the stated expression, canonicalised by :func:`canonical_math`."""
    from ..verify.extract import canonical_math

    if not text or not text.strip():
        return None
    sentence = _summary(text)
    if not sentence:
        return None
    lower = sentence.lower().lstrip("*# ")
    if kind == "yesno":
        m = re.match(r"(yes|no)\b", lower)
        if m:
            return m.group(1)
        return "no" if _NEG.search(sentence) else "yes"
    if kind == "none" and (re.match(r"(?:there\s+(?:are|is|exist|exists)\s+no|no\b|none\b)", lower)
                           or re.search(r"\bdoes(?: not|n't) exist|\bno (?:such|integer|real|positive|solutions?)"
                                        r"|cannot exist|\bnone\b", lower)):
        return "none"
    expr = _main_expression(sentence)
    if expr is None:
        return None
    expr = _WORDS.get(expr.lower(), expr)
    return canonical_math(expr)


# --- the task -----------------------------------------------------------------------------


class ChampTask(AnswerTask):
    """CHAMP problems with gold answers (0-shot chat prompt of the paper). ``categories``
    limits to some of Combinatorics, Inequality, Number-Theory, Polynomial, Sequence."""

    name = "champ"
    sampling_defaults = {"max_tokens": 1024}

    def __init__(self, categories: list[str] | str | None = None, equivalence: str = "math",
                 **options: Any) -> None:
        options.pop("answer_type", None)
        super().__init__(answer_type="math", **options)
        if isinstance(categories, str):
            categories = [c.strip() for c in categories.split(",") if c.strip()]
        if equivalence not in ("math", "canonical"):
            from ..errors import ConfigError
            raise ConfigError("equivalence", f"must be 'math' or 'canonical', got {equivalence!r}")
        self.categories = categories
        #: "canonical": answers were already merged by :func:`merge_answers` (the replay bank),
        #: so string equality is exact and no math-verify call is needed
        self.equivalence = equivalence

    def load(self) -> list[Problem]:
        from champ_dataset import PromptGenerator

        ds = _dataset()
        gen = PromptGenerator(ds)
        out = []
        for pid, p in ds.problems.items():
            if self.categories and p.category not in self.categories:
                continue
            system, users, _ = gen.problem_only(p)
            variants = gold_variants(p.raw_answer)
            out.append(Problem(
                id=pid, prompt=[{"role": "system", "content": system}, {"role": "user", "content": users[0]}],
                answers=variants, task=self.name, answer_type="math",
                metadata={"category": p.category, "raw_answer": p.raw_answer, "kind": answer_kind(variants),
                          "question": p.text}))
        return out

    def extract(self, text: str, problem: Problem | None = None) -> str | None:
        kind = problem.metadata.get("kind", "math") if problem is not None else "math"
        return champ_extract(text, kind)

    def reference_answers(self, problem: Problem) -> list[str]:
        kind = problem.metadata.get("kind") or answer_kind(problem.answers)
        if kind == "yesno":
            return [problem.answers[0].strip().lower()]
        if kind == "none":
            return ["none"]
        from ..verify.extract import canonical_math
        return [c for c in (canonical_math(a) for a in problem.answers) if c]

    def same(self, a: str, b: str) -> bool:
        return a == b if self.equivalence == "canonical" else _same(a, b)


@lru_cache(maxsize=200_000)
def _same(a: str, b: str) -> bool:
    """Cached: a bank of 19,440 responses compares the same few answer pairs many times."""
    if a == b:
        return True
    if {a, b} & {"yes", "no", "none"}:
        return False
    from ..verify.math import math_equal
    return bool(math_equal(a, b))


# --- the replay bank -------------------------------------------------------------------------


def _conversation_sample(problem_id: str, conv: Any, model: str, setting: str, index: int, stream: str,
                         task: ChampTask, problem: Problem) -> Sample:
    """One response as a Sample: the solution turn, then the summary turn after a marker."""
    model_msgs = [m for m in conv.messages if m.role.startswith("Model.")]
    prompt_chars = sum(len(m.text or "") for m in conv.messages if not m.role.startswith("Model."))
    solution = model_msgs[0] if model_msgs else None
    summary = model_msgs[-1] if len(model_msgs) > 1 else None
    truncated = bool(solution is not None and solution.error == "LENGTH_CURRENT")
    solution_text = (solution.text or "") if solution is not None else ""
    summary_text = (summary.text or "") if summary is not None else ""
    text = solution_text + (SUMMARY_MARKER + summary_text if summary_text else "")
    completion_tokens = max(1, round(len(solution_text + summary_text) / 4))
    return Sample(
        problem_id=problem_id, index=index, stream=stream, text=text,
        answer=task.extract(text, problem) if summary_text else None,
        finish_reason="length" if truncated else "stop",
        usage=Usage(prompt_tokens=round(prompt_chars / 4), completion_tokens=completion_tokens),
        model=model, config_hash="champ-v0",
        metadata={"model": model, "prompt_setting": setting, "summary": summary_text,
                  "truncated": truncated, "tokens_estimated": True, "source": "champ-dataset v0"})


def champ_samples(task: ChampTask, problems: list[Problem], models: tuple[str, ...] = MODELS,
                  per_model_streams: bool = True) -> list[Sample]:
    """Every response as Samples. Stream ``main`` holds all ``len(models) × 18`` responses of
    a problem (index = model position × 18 + setting position, for cross-model voting);
    with ``per_model_streams``, stream ``model:<slug>`` holds one model's 18 (index =
    setting position)."""
    ds = _dataset()
    out: list[Sample] = []
    for problem in problems:
        p = ds.problems[problem.id]
        for mi, model in enumerate(models):
            for si, setting in enumerate(SETTINGS):
                conv = p.conversations[f"{model}|{setting}"]
                s = _conversation_sample(problem.id, conv, model, setting, mi * len(SETTINGS) + si, "main",
                                         task, problem)
                out.append(s)
                if per_model_streams:
                    out.append(s.model_copy(update={"stream": f"model:{model_slug(model)}", "index": si}))
    return out


VERDICTS_FILE = "data/champ_verdicts.json"


@cache
def known_verdicts() -> dict[tuple[str, str], bool]:
    """math-verify's verdicts on the (answer, gold) pairs of the shipped bank, computed once
    by :func:`write_known_verdicts` and shipped, so building the bank takes seconds instead
    of minutes of SymPy. Pairs not in the file (after an extractor change) are checked live."""
    import json
    from importlib.resources import files

    res = files("ttscale.tasks").joinpath(VERDICTS_FILE)
    if not res.is_file():
        return {}
    return {(a, b): bool(v) for a, b, v in json.loads(res.read_text())}


def write_known_verdicts(path: str, verdicts: dict[tuple[str, str], bool]) -> None:
    import json
    with open(path, "w") as f:
        json.dump(sorted([a, b, v] for (a, b), v in verdicts.items()), f, separators=(",", ":"))


_FUNCS = {"sqrt", "frac", "dfrac", "binom", "cdot", "times", "pi", "log", "ln", "sin", "cos", "tan", "max",
          "min", "sum", "prod", "mod", "pmod", "gcd", "lcm", "infty", "left", "right", "ldots", "cdots",
          "dots", "le", "ge", "leq", "geq", "neq", "in", "mathbb", "e", "i", "C", "P"}


def _letters(s: str) -> frozenset[str] | None:
    """Variable letters of an answer; None when it is prose (a word of 4+ letters that is
    not a function name), which only ever matches by exact canonical string."""
    letters: set[str] = set()
    for run in re.findall(r"[A-Za-z]+", s):
        if run in _FUNCS:
            continue
        if len(run) >= 4:
            return None
        letters.update(run)
    return frozenset(letters)


def could_be_equal(a: str, b: str) -> bool:
    """A cheap necessary condition for math equivalence, so math-verify is asked only
    about pairs that might match: both read as math, with the same variable letters (a
    number never equals an expression in n). Heuristic: an answer like ``n - n + 3`` would
    be missed; CHAMP answers are simplified, and the bank meta says grading is heuristic."""
    if a == b:
        return True
    la, lb = _letters(a), _letters(b)
    return la is not None and lb is not None and la == lb


def merge_answers(task: ChampTask, problems: list[Problem], samples: list[Sample],
                  timeout: float = 2.0) -> list[Sample]:
    """Grade every distinct (problem, answer) once and give each sample its answer *class*.

    Answers equivalent to the gold answer (checked with ``math-verify`` in worker processes,
    ``timeout`` seconds per pair) are replaced by the gold's canonical form, so they vote
    together and grade by string equality; other answers keep their canonical form (two
    wrong answers merge only when their canonical strings are equal — slightly fewer merges
    than a full pairwise check, recorded in the bank meta). The extracted form stays in
    ``metadata["extracted"]``. Done once when the bank is built, so replays never call
    math-verify."""
    from ..verify.math import MathChecker

    refs = {p.id: task.reference_answers(p) for p in problems}
    kinds = {p.id: p.metadata.get("kind", "math") for p in problems}
    pairs: set[tuple[str, str]] = set()
    for s in samples:
        if s.answer is not None and kinds[s.problem_id] == "math":
            pairs.update((s.answer, r) for r in refs[s.problem_id] if could_be_equal(s.answer, r))
    known = known_verdicts()
    verdicts = {k: known[k] for k in pairs if k in known}
    todo = sorted(pairs - set(verdicts))
    if todo:
        with MathChecker(workers=2, timeout=timeout) as checker:
            verdicts.update(zip(todo, checker.equal_many(todo, timeout), strict=True))
    out = []
    for s in samples:
        rs = refs[s.problem_id]
        if s.answer is None or not rs:
            out.append(s)
            continue
        ok = s.answer in rs or any(verdicts.get((s.answer, r), False) for r in rs)
        answer = rs[0] if ok else s.answer
        out.append(s.model_copy(update={"answer": answer, "metadata": {**s.metadata, "extracted": s.answer}}))
    merge_answers.last_verdicts = verdicts  # type: ignore[attr-defined]  # for write_known_verdicts
    return out


def _regenerate_verdicts() -> None:
    """``python -m ttscale.tasks.champ``: recompute the shipped verdict table (after
    changing :func:`champ_extract` or :func:`gold_variants`)."""
    from importlib.resources import files

    known_verdicts.cache_clear()
    task = ChampTask()
    problems = task.load()
    samples = champ_samples(task, problems, per_model_streams=False)
    target = str(files("ttscale.tasks").joinpath(VERDICTS_FILE))
    import os
    if os.path.exists(target):
        os.remove(target)
    known_verdicts.cache_clear()
    merge_answers(task, problems, samples, timeout=3.0)
    verdicts = merge_answers.last_verdicts  # type: ignore[attr-defined]
    write_known_verdicts(target, verdicts)
    print(f"{len(verdicts)} verdicts ({sum(verdicts.values())} equal) written to {target}")


if __name__ == "__main__":
    _regenerate_verdicts()
