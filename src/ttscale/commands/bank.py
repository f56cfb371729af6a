"""``ttscale bank``: import published sample banks, export them, list the named banks.

    ttscale bank import FILE --name NAME [--format auto|per-problem|per-sample] [--type math|choice|text|code]
                         [--question-field F] [--answer-field F] [--responses-field F] [--on-error skip|raise]
    ttscale bank export NAME --out FILE [--format per-sample|per-problem] [--stream S]
    ttscale bank list [--json]

A named bank is then usable as ``--bank NAME`` anywhere (``ttscale sweep --bank NAME``).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

from .common import print_table


def add_parser(sub: Any, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("bank", help=help_text, description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    imp = verbs.add_parser("import", help="read an external sample bank into a named bank")
    imp.add_argument("file", help="JSONL, JSON, CSV or Parquet file")
    imp.add_argument("--name", required=True, help="bank name (then usable as --bank NAME)")
    imp.add_argument("--format", default="auto", choices=["auto", "per-problem", "per-sample"])
    imp.add_argument("--type", default="math", choices=["math", "choice", "text", "code"], dest="answer_type",
                     help="answer type: picks the extractor and the equivalence used to grade and vote")
    imp.add_argument("--question-field", default="question")
    imp.add_argument("--answer-field", default="answer", help="gold answer field")
    imp.add_argument("--responses-field", default="generated_answer", help="per-problem: list of responses")
    imp.add_argument("--id-field", default=None, help="per-problem: problem id field (default: id, else row number)")
    imp.add_argument("--on-error", default="skip", choices=["skip", "raise"],
                     help="malformed rows: skip them (with a warning naming them) or stop")
    imp.add_argument("--overwrite", action="store_true", help="replace an existing bank of that name")
    exp = verbs.add_parser("export", help="write a bank's samples as JSONL or Parquet")
    exp.add_argument("name", help="bank name or run directory")
    exp.add_argument("--out", required=True, help="output file (.parquet → Parquet, else JSONL)")
    exp.add_argument("--format", default="per-sample", choices=["per-sample", "per-problem"])
    exp.add_argument("--stream", default="main", help="stream to export ('*' for all)")
    lst = verbs.add_parser("list", help="list named banks (imported and built-in)")
    lst.add_argument("--json", action="store_true", help="one JSON object per bank")
    return p


def main(args: argparse.Namespace) -> int:
    from .. import banks

    if args.verb == "import":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            meta = banks.import_bank(args.file, args.name, fmt=args.format, answer_type=args.answer_type,
                                     question_field=args.question_field, answer_field=args.answer_field,
                                     responses_field=args.responses_field, id_field=args.id_field,
                                     on_error=args.on_error, overwrite=args.overwrite)
        for w in caught:
            print(f"ttscale: warning: {w.message}", file=sys.stderr)
        print(f"imported {meta['samples']} samples of {meta['problems']} problems ({meta['format']}, "
              f"type {meta['answer_type']}); tokens: {meta['tokens']}")
        print(banks.bank_dir(args.name))
        return 0
    if args.verb == "export":
        n = banks.export_bank(args.name, args.out, fmt=args.format, stream=args.stream)
        print(f"wrote {n} rows to {args.out}")
        return 0
    if args.verb == "list":
        rows = banks.list_banks()
        if args.json:
            for r in rows:
                print(json.dumps(r))
        else:
            print_table("sample banks", ["name", "problems", "samples", "type", "i.i.d.", "path / note"],
                        [[r["name"], r.get("problems", "-"), r.get("samples", "-"), r.get("answer_type") or "-",
                          {True: "yes", False: "no"}.get(r.get("iid"), "?"), r.get("path") or r.get("note", "")]
                         for r in rows])
        return 0
    print("usage: ttscale bank {import,export,list} ...; see ttscale bank --help", file=sys.stderr)
    return 2
