"""``ttscale verify``: extract answers from responses and grade them against a gold answer.

So users can check their own outputs — and our grader — without writing Python. With
``--json`` each response gives one line ``{"answer", "canonical", "correct", "reason"}``
(``answer`` null when nothing could be extracted; ``correct`` false then).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError

RESPONSE_FIELDS = ("response", "text", "completion", "output")
GOLD_FIELDS = ("gold", "answer", "reference")


def add_parser(sub: Any, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("verify", help=help_text, description=(
        "Extract the answer from each response, show its canonical form, and grade it "
        "against the gold answer (math equivalence, choice letters, normalised text, or — "
        "for code — the gold is test code run in the sandbox)."))
    p.add_argument("--type", required=True, choices=["math", "choice", "text", "code"], dest="answer_type",
                   help="answer type: decides extraction and comparison")
    p.add_argument("--gold", help="gold answer (code: test source, or a path to a file with it); "
                                  "with --input, rows may carry their own 'gold'")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--response", help="one response text")
    src.add_argument("--input", help="JSONL file, one object per line with 'response' (or 'text') "
                                     "and optionally 'gold'")
    p.add_argument("--entry-point", help="code: the function the tests check (HumanEval's check(candidate))")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per check (math worker / code sandbox)")
    p.add_argument("--json", action="store_true", help='one JSON object per response: '
                                                       '{"answer", "canonical", "correct", "reason"}')
    return p


def _read_rows(path: str) -> list[dict[str, Any]]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError("--input", f"no such file: {path}")
    rows = []
    for i, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg})", source=path, row=i) from None
        if not isinstance(row, dict):
            raise DataError("expected a JSON object", source=path, row=i)
        text = next((row[f] for f in RESPONSE_FIELDS if f in row), None)
        if not isinstance(text, str):
            raise DataError(f"needs a string field {' or '.join(map(repr, RESPONSE_FIELDS[:2]))}",
                            source=path, row=i, field="response")
        gold = next((row[f] for f in GOLD_FIELDS if f in row), None)
        if gold is not None and not isinstance(gold, (str, int, float, list)):
            raise DataError("gold must be a string, a number or a list of them", source=path, row=i, field="gold")
        rows.append({"response": text, "gold": gold, "row": i})
    return rows


def _gold_value(gold: Any, answer_type: str) -> str | list[str]:
    if isinstance(gold, list):
        return [str(g) for g in gold]
    gold = str(gold)
    if answer_type == "code" and "\n" not in gold and Path(gold).is_file():
        return Path(gold).read_text(encoding="utf-8")
    return gold


def main(args: argparse.Namespace) -> int:
    from ..verify.grade import grade

    if args.timeout <= 0:
        raise ConfigError("--timeout", "must be > 0")
    rows = [{"response": args.response, "gold": None, "row": None}] if args.response is not None \
        else _read_rows(args.input)
    results = []
    for r in rows:
        gold = r["gold"] if r["gold"] is not None else args.gold
        if gold is None:
            raise ConfigError("--gold", "needed (or a 'gold' field in every --input row)"
                              + (f"; row {r['row']} has none" if r["row"] else ""))
        g = grade(r["response"], _gold_value(gold, args.answer_type), args.answer_type,
                  entry_point=args.entry_point, timeout=args.timeout)
        results.append(g)
        if args.json:
            print(json.dumps(g.to_json()), flush=True)
    if not args.json:
        from .common import print_table

        def short(s: str | None, n: int = 40) -> str:
            if s is None:
                return "-"
            s = s.replace("\n", "⏎")
            return s if len(s) <= n else s[: n - 1] + "…"

        print_table(f"verify ({args.answer_type})", ["#", "answer", "canonical", "correct", "reason"],
                    [[i + 1, short(g.answer), short(g.canonical), "yes" if g.correct else "no", short(g.reason, 60)]
                     for i, g in enumerate(results)])
        print(f"{sum(g.correct for g in results)}/{len(results)} correct")
    return 0
