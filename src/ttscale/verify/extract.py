"""Answer extraction: find the answer a model wrote, and put it in a canonical form.

Two verbs, kept apart (as in Math-Verify): ``extract_raw`` finds the answer *as written*
(what a user wants to see when a grade looks wrong) and ``canonicalize`` normalises it
(what votes are merged on and what the store keeps). ``extract_answer`` does both.

Nothing here raises on model output: text with no recognisable answer gives ``None``
("no answer"), which never votes. Everything is plain string work — no ``eval``, no
SymPy — so it is safe to run in-process on untrusted text; semantic equivalence of
math answers lives in :mod:`ttscale.verify.math`, behind a process boundary.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "ANSWER_TYPES",
    "extract_answer",
    "extract_raw",
    "canonicalize",
    "extract_boxed",
    "extract_choice",
    "extract_code",
    "extract_final_phrase",
    "extract_last_number",
    "extract_conclusion",
    "canonical_math",
    "canonical_choice",
    "canonical_text",
    "canonical_code",
]

ANSWER_TYPES = ("math", "choice", "text", "code")
MAX_TEXT = 200_000  # longer outputs are cut from the front: answers live at the end

# ---------------------------------------------------------------------------- boxed


_BOX_CMDS = ("\\boxed", "\\fbox", "\\framebox")


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the brace group opening at ``text[start] == '{'`` and the index
    after its closing brace; ``None`` when unbalanced. Escaped braces (``\\{``) nest too,
    which is what LaTeX set notation needs."""
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
        i += 1
    return None


def _brace_pairs(text: str) -> dict[int, int]:
    """Index of each ``{`` → index of its matching ``}``, in one linear pass (escaped
    braces nest like plain ones), so finding every box stays O(n) on hostile text."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "{}":
            i += 2
            continue
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def extract_boxed(text: str) -> str | None:
    """Content of the *last* ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces allowed;
    ``\\boxed 5`` without braces too). When a solution boxes several parts (``\\boxed{2}``
    and ``\\boxed{3}`` in one final line), they are joined with commas."""
    text = text[-MAX_TEXT:]
    found: list[tuple[int, int, str]] = []
    pairs: dict[int, int] | None = None
    for cmd in _BOX_CMDS:
        for m in re.finditer(re.escape(cmd) + r"(?![A-Za-z])", text):
            j = m.end()
            while j < len(text) and text[j] == " ":
                j += 1
            if j < len(text) and text[j] == "{":
                if pairs is None:
                    pairs = _brace_pairs(text)
                end = pairs.get(j)
                if end is None:
                    continue
                found.append((m.start(), end + 1, text[j + 1:end].strip()))
            else:  # \boxed 5  /  \boxed{} missing
                mm = re.match(r"[^\s$]+", text[j:])
                if mm and j > m.end():
                    found.append((m.start(), j + mm.end(), mm.group(0).strip()))
    found = [f for f in found if f[2]]
    if not found:
        return None
    found.sort()
    last = found[-1]
    # several boxes on the final line: "x = \boxed{2}, y = \boxed{3}"
    line_start = text.rfind("\n", 0, last[0]) + 1
    same_line = [f for f in found if f[0] >= line_start and not text[f[1]:].lstrip().startswith("=")]
    if len(same_line) > 1 and all(text[a[1]:b[0]].count("\n") == 0 for a, b in zip(same_line, same_line[1:], strict=False)):
        return ", ".join(f[2] for f in same_line)
    return last[2]


# ------------------------------------------------------------------ answer phrases

_PHRASE = re.compile(
    r"(?:final\s+answer|the\s+(?:correct\s+)?answer|answer)\s*"
    r"(?:is|would\s+be|will\s+be|should\s+be|=|:)\s*[:=]?\s*",
    re.IGNORECASE,
)


def _cut_sentence(s: str) -> str:
    """Cut an answer phrase at the end of its sentence: newline, or a period/semicolon that
    is not a decimal point, keeping ``$...$`` math intact."""
    s = s.strip()
    if s.startswith("$$") and "$$" in s[2:]:
        return s[: s.index("$$", 2) + 2]
    if s.startswith("\\[") and "\\]" in s:
        return s[: s.index("\\]") + 2]
    if s.startswith("$") and "$" in s[1:]:
        return s[: s.index("$", 1) + 1]
    s = s.split("\n", 1)[0]
    m = re.search(r"(?<!\d)[.;](?!\d)|\.(?=\s|$)|;", s)
    if m:
        s = s[: m.start()]
    return s.strip()


def extract_final_phrase(text: str) -> str | None:
    """What follows the last "The answer is" / "Final answer:" / "Answer:" in ``text``."""
    text = text[-MAX_TEXT:]
    last = None
    for m in _PHRASE.finditer(text):
        rest = text[m.end():]
        if not rest.strip() or rest.lstrip().startswith("\n"):
            continue
        last = rest
    if last is None:
        return None
    ans = _cut_sentence(last.lstrip("*_ \t"))
    ans = re.sub(r"^that\s+", "", ans.strip("*_ \t"), flags=re.IGNORECASE)
    return _refine_phrase(ans) if ans else None


_CONCLUDE = re.compile(r"(?:^|(?<=[.!\n])|(?<=, ))\s*(?:so|thus|therefore|hence|finally|in\s+conclusion|in\s+total|"
                       r"in\s+summary|consequently|altogether|overall)\b[^\n]*", re.IGNORECASE)
_CONNECTOR = re.compile(r"(?:\bis\b|\bare\b|\bequals?\b|\bbe\b|\bwas\b|\bget\b|\bobtain\b|\bgives\b|"
                        r"\bhave\b|\bhas\b|=|\\approx|≈)\s*", re.IGNORECASE)
_FILLER = re.compile(r"^(?:simply|just|exactly|precisely|equal\s+to|given\s+by|then|therefore|thus|"
                     r"at\s+least|at\s+most|only|now)\s+", re.IGNORECASE)
_CLAUSE_END = re.compile(r",\s*(?:which|where|when|since|because|as|so)\b", re.IGNORECASE)
_LEAD_VALUE = re.compile(r"\$[^$]+\$|\\\(.+?\\\)|\\\[.+?\\\]|"
                         r"[-−]?\s*\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?%?(?=\s|$|[.,;:!?)\]$]|\\[),\]])(?!\s*[-+*/×·^=])")


def extract_conclusion(text: str) -> str | None:
    """The value stated by the last concluding sentence ("So, there are 89 subsets of ...",
    "Therefore, a_10 = 2,779,570."): what directly follows its last "is"/"are"/"=" — the
    numbers *after* the value ("subsets of {1, ..., 10}") are the question's, not the answer."""
    text = text[-MAX_TEXT:].rstrip()
    # the final sentence states the result more often than not ("The smallest value is -9.")
    tail = re.split(r"(?<=[.!?])\s+(?=[A-Z])|\n|,\s*(?=(?:so|thus|therefore|hence)\b)", text.rstrip(" ."))[-1]
    last = _value_after_connector(tail, first=True) if tail else None
    if last is not None:
        return last
    hits = list(_CONCLUDE.finditer(text))
    if not hits:
        return None
    sentence = _cut_sentence_keep_math(hits[-1].group(0))
    got = _value_after_connector(sentence)
    if got is None:  # "Therefore, we need at least 25 questions for all 50 numbers."
        m = _NUMBER.search(sentence)
        got = m.group(0) if m else None
    return got


def _value_after_connector(sentence: str, first: bool = False) -> str | None:
    """The value right after the last (or ``first``) "is"/"are"/"=" of a clause that has one."""
    cut = _CLAUSE_END.search(sentence)
    if cut:
        sentence = sentence[: cut.start()]
    conns = list(_CONNECTOR.finditer(sentence))
    for conn in (conns if first else reversed(conns)):
        rest = _FILLER.sub("", sentence[conn.end():], count=1)
        m = _LEAD_VALUE.match(rest)
        if m:
            return m.group(0).strip().rstrip(",")
    return None


def _refine_phrase(phrase: str) -> str:
    """"Final answer: The smallest value of f is 0" → ``0``; "$\\frac{6\\cdot 6}{2} = 12$"
    → ``12``; a bare answer stays as it is."""
    inner = _strip_math_delims(phrase) if phrase.startswith(("$", "\\(", "\\[")) else phrase
    if not _CONNECTOR.search(inner):
        return phrase
    got = _value_after_connector(inner)
    return got if got is not None else phrase


def _cut_sentence_keep_math(s: str) -> str:
    """``s`` up to the end of its sentence, not cutting inside ``$...$``."""
    out, in_math = [], False
    for i, ch in enumerate(s):
        if ch == "$":
            in_math = not in_math
        if not in_math and ch == "." and (i + 1 == len(s) or s[i + 1] in " \n") and not (i > 0 and s[i - 1] == "."):
            break
        out.append(ch)
    return "".join(out)


_NUMBER = re.compile(r"(?<![\w.^_{])[-−]?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?%?|(?<![\w.^_{])[-−]?\.\d+")


def extract_last_number(text: str) -> str | None:
    """The last number in ``text`` (integers, decimals, thousands separators, ``a/b``)."""
    found = _NUMBER.findall(text[-MAX_TEXT:])
    return found[-1].replace(" ", "") if found else None


# --------------------------------------------------------------------- canonical math

_SPACING = re.compile(r"\\[,;:! ]|\\q?quad|\\left|\\right|\\displaystyle|\\limits|~")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{")
_UNIT_WORDS = (
    "units?|square units?|sq units?|cm|mm|km|m|meters?|metres?|centimeters?|kilometers?|inches|inch|in|"
    "feet|foot|ft|yards?|miles?|mph|seconds?|secs?|s|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|"
    "dollars?|cents?|degrees?|deg|radians?|rad|grams?|g|kg|kilograms?|pounds?|lbs?|ounces?|oz|liters?|litres?|"
    "l|ml|gallons?|people|students?|ways?|times|points?|percent|per\\s*cent|cups?|pages?|apples?|"
    "boxes|books?|cookies?|marbles?|balls?|coins?|eggs?|pieces?|items?|tickets?|cars?|trees?"
)
_TRAILING_UNIT = re.compile(r"^(.*?\d)\s*(?:\\,|\\ )?\s*(?:\^?\{?\s*(?:" + _UNIT_WORDS + r")\s*\}?(?:\^\{?[23]\}?|²|³)?\s*)+\.?$",
                            re.IGNORECASE)


def _unwrap_text_cmds(s: str) -> str:
    """``\\text{cm}`` → ``cm`` (content kept, command dropped), nested braces respected."""
    for _ in range(20):
        m = _TEXT_CMD.search(s)
        if not m:
            break
        got = _braced(s, m.end() - 1)
        if got is None:
            break
        s = s[: m.start()] + got[0] + s[got[1]:]
    return s


def _fix_fracs(s: str) -> str:
    """``\\dfrac``/``\\tfrac`` → ``\\frac``; ``\\frac12`` / ``\\frac1{2}`` / ``\\frac{1}2`` →
    ``\\frac{1}{2}`` (LaTeX takes single tokens as arguments)."""
    s = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", s)
    out = []
    i = 0
    while True:
        j = s.find("\\frac", i)
        if j < 0:
            out.append(s[i:])
            break
        out.append(s[i:j] + "\\frac")
        k = j + 5
        args = []
        for _ in range(2):
            while k < len(s) and s[k] == " ":
                k += 1
            if k < len(s) and s[k] == "{":
                got = _braced(s, k)
                if got is None:
                    break
                args.append(_fix_fracs(got[0]))
                k = got[1]
            elif k < len(s) and s[k] == "\\":
                m = re.match(r"\\[A-Za-z]+", s[k:])
                if not m:
                    break
                args.append(m.group(0))
                k += m.end()
            elif k < len(s):
                args.append(s[k])
                k += 1
        if len(args) == 2:
            out.append("{" + args[0] + "}{" + args[1] + "}")
        i = k
    return "".join(out)


def _strip_math_delims(s: str) -> str:
    s = s.strip()
    for a, b in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if s.startswith(a) and s.endswith(b) and len(s) >= len(a) + len(b):
            s = s[len(a): len(s) - len(b)].strip()
    return s.replace("$", "")


def _normalise_number(s: str) -> str:
    """``3.50`` → ``3.5``; ``3.0`` → ``3``; ``.5`` → ``0.5``; ``+4`` → ``4``; ``-0`` → ``0``."""
    m = re.fullmatch(r"([+-]?)(\d*)(?:\.(\d*))?", s)
    if not m or not (m.group(2) or m.group(3)):
        return s
    sign, whole, frac = m.group(1), m.group(2).lstrip("0") or "0", (m.group(3) or "").rstrip("0")
    out = whole + ("." + frac if frac else "")
    if sign == "-" and out != "0":
        out = "-" + out
    return out


def canonical_math(s: str | None) -> str | None:
    """A canonical string for a math answer, for vote keys and cheap equality.

    Removes presentation only: math delimiters, spacing commands, ``\\left``/``\\right``,
    ``\\text{}`` wrappers and trailing units, ``^\\circ``/``°``, ``\\%``, currency ``\\$``,
    thousands separators, trailing periods, a leading ``x =``; rewrites ``\\dfrac``,
    ``\\frac12`` and plain decimals to one spelling. It never decides that two different
    spellings of a number are equal (``1/2`` vs ``0.5``) — that is :func:`math_equal`'s job.
    """
    if s is None:
        return None
    s = unicodedata.normalize("NFKC", str(s))[:2000].strip()
    if not s:
        return None
    boxed = extract_boxed(s)
    if boxed is not None and s.lstrip("$ ").startswith(("\\boxed", "\\fbox", "\\framebox")):
        s = boxed
    s = _strip_math_delims(s.replace("\\$", ""))
    s = s.replace("−", "-").replace("\\infty", "\\infty ").replace("\\dollar", "")
    s = _SPACING.sub(" ", s)
    s = _unwrap_text_cmds(s)
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree", "", s)
    s = re.sub(r"\\?%|\\percent", "", s)
    s = s.replace("\\$", "").replace("{,}", ",")
    s = s.strip().rstrip(".").strip()
    # "x = 3" → "3" (one assignment to a single variable; keep equations like "y = 2x + 1")
    m = re.fullmatch(r"\\?[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(.+)", s)
    if m and "=" not in m.group(1) and not re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", m.group(1))):
        s = m.group(1)
    m = _TRAILING_UNIT.match(s)
    if m:
        s = m.group(1)
    s = re.sub(r"^\s*(?:about|approximately|approx\.?|exactly|\\approx)\s+", "", s, flags=re.IGNORECASE)
    if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s.replace(" ", "")):
        s = s.replace(",", "")
    s = _fix_fracs(s)
    s = re.sub(r"\s+", "", s)
    s = s.rstrip(".")
    if re.fullmatch(r"\\text\{.*\}", s):
        s = s[6:-1]
    s = _normalise_number(s)
    return s or None


# ------------------------------------------------------------------------- choices

_LETTERS = "ABCDEFGHIJ"
_CHOICE_PATTERNS = [
    # "answer is (B)", "Answer: B", "correct option is **B**", "choice: [C]"
    r"(?:answer|option|choice)\s*(?:is|would\s+be|should\s+be|=|:)?\s*[:=]?\s*(?:option|choice)?\s*"
    r"[\*_\(\[\{\s]*\\?(?:text|textbf|mathrm)?\{?\(?([A-J])\)?\}?(?![A-Za-z])",
    r"\*\*\(?([A-J])\)?\*\*",            # **B** / **(B)**
    r"^\s*\(?([A-J])\)\s",                # "B) ..." or "(B) ..." at a line start
    r"\(([A-J])\)",                       # (B) anywhere
]


def canonical_choice(s: str | None, letters: str = _LETTERS) -> str | None:
    """``"(b)"``, ``"B)"``, ``"\\text{B}"``, ``"Option B"`` → ``"B"``; None unless exactly one
    option letter is there."""
    if s is None:
        return None
    t = _unwrap_text_cmds(_strip_math_delims(str(s))).strip().strip("*_.:;,()[]{} \t\n")
    t = re.sub(r"^(?:option|choice|answer)\s*", "", t, flags=re.IGNORECASE).strip("*_.:;,()[]{} ")
    if len(t) == 1 and t.upper() in letters:
        return t.upper()
    # "(B) 42", "B) 42", "B. 42", "B: 42" — a letter followed by a bare space is a word ("I think")
    m = re.match(r"^(?:\(([A-Ja-j])\)|([A-J])[.:)])(?:\s|$)", t)
    if m and (m.group(1) or m.group(2)).upper() in letters:
        return (m.group(1) or m.group(2)).upper()
    return None


def extract_choice(text: str, letters: str = _LETTERS) -> str | None:
    """The option letter a response commits to: a boxed letter, "answer is (B)", "**B**",
    a line starting "B)", "(B)" — the last such, by priority — or a bare letter on the last
    line."""
    text = text[-MAX_TEXT:]
    boxed = extract_boxed(text)
    if boxed is not None:
        got = canonical_choice(boxed, letters)
        if got:
            return got
    for i, pat in enumerate(_CHOICE_PATTERNS):
        flags = re.MULTILINE if i == 2 else re.IGNORECASE if i == 0 else 0
        hits = [h.upper() for h in re.findall(pat, text, flags) if h.upper() in letters]
        if hits:
            return hits[-1]
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if lines:
        return canonical_choice(lines[-1], letters)
    return None


# ---------------------------------------------------------------------------- text

_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


def canonical_text(s: str | None) -> str | None:
    """Accents folded, lower case, punctuation and a leading article dropped, spaces
    collapsed: ``"The  Paris."`` → ``"paris"``."""
    if s is None:
        return None
    t = unicodedata.normalize("NFKD", str(s)).encode("ascii", "ignore").decode()
    t = _unwrap_text_cmds(_strip_math_delims(t)) if "\\" in t or "$" in t else t
    t = re.sub(r"[^\w\s'-]", " ", t.lower())
    t = _ARTICLE.sub("", t.strip())
    t = re.sub(r"\s+", " ", t).strip(" '-_")
    return t or None


def _extract_text(text: str) -> str | None:
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed
    phrase = extract_final_phrase(text)
    if phrase is not None:
        return phrase
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else None


# ---------------------------------------------------------------------------- code

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(text: str, language: str = "python") -> str | None:
    """The last fenced code block in the wanted language (or untagged); else the whole
    text when it already looks like code (a completion that continues a function)."""
    blocks = _FENCE.findall(text)
    if blocks:
        wanted = [b for lang, b in blocks if lang.lower() in (language, language[:2], "", "python3")]
        body = (wanted or [b for _, b in blocks])[-1]
        return body.rstrip() or None
    if re.search(r"^\s*(?:def |class |import |from \w+ import |return\b|for |if |while )", text, re.MULTILINE):
        return text.rstrip() or None
    return None


def canonical_code(s: str | None) -> str | None:
    """Code compares as written, minus trailing whitespace on each line."""
    if s is None:
        return None
    out = "\n".join(ln.rstrip() for ln in str(s).strip("\n").splitlines())
    return out or None


# --------------------------------------------------------------------------- entry


def _check_type(answer_type: str) -> None:
    if answer_type not in ANSWER_TYPES:
        from ..errors import ConfigError
        raise ConfigError("answer_type", f"unknown answer type {answer_type!r}; choose one of {', '.join(ANSWER_TYPES)}")


def extract_raw(text: str | None, answer_type: str) -> str | None:
    """The answer as the model wrote it, or None. Raises only for an unknown answer type
    (a programming error), never on model text."""
    _check_type(answer_type)
    if not text or not isinstance(text, str):
        return None
    try:
        if answer_type == "math":
            got = extract_boxed(text) or extract_final_phrase(text) or extract_conclusion(text)
            if got is not None:
                return got
            return extract_last_number(text)
        if answer_type == "choice":
            return extract_choice(text)
        if answer_type == "code":
            return extract_code(text)
        return _extract_text(text)
    except (RecursionError, ValueError, IndexError):  # pathological text: no answer
        return None


def canonicalize(answer: str | None, answer_type: str) -> str | None:
    """Canonical form of an already-extracted (or reference) answer."""
    _check_type(answer_type)
    if answer is None:
        return None
    try:
        if answer_type == "math":
            return canonical_math(answer)
        if answer_type == "choice":
            return canonical_choice(answer)
        if answer_type == "code":
            return canonical_code(answer)
        return canonical_text(answer)
    except (RecursionError, ValueError, IndexError):
        return None


def extract_answer(text: str | None, answer_type: str) -> str | None:
    """The canonical answer in ``text`` for ``answer_type`` (math, choice, text, code), or
    None when nothing recognisable is there."""
    return canonicalize(extract_raw(text, answer_type), answer_type)
