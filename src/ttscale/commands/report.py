"""``ttscale report RUN_DIR``: write a self-contained HTML report (tables, accuracy-vs-compute
plot with the Pareto frontier, compute-optimal table, per-problem drill-down, the config)
and print the headline table. PNG figures are embedded and also written next to the HTML."""

from __future__ import annotations

import argparse
from typing import Any

from .common import print_table


def add_parser(sub: Any, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("report", help=help_text, description=__doc__)
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory (or bank name) to report on")
    p.add_argument("--out", default=None, metavar="FILE.html", help="output file (default RUN_DIR/report.html)")
    p.add_argument("--x-axis", default=None, help="compute axis (default: the sweep's; tokens otherwise)")
    return p


def main(args: argparse.Namespace) -> int:
    from ..analysis.report import build_report
    from ..banks import resolve_bank

    run_dir = resolve_bank(args.run_dir)
    path, rows = build_report(run_dir, args.out, axis=args.x_axis)
    print_table(f"report · {run_dir}", ["strategy", "budget", "accuracy", "± s.e.", "samples", "tokens",
                                        "x-axis", "method"],
                [[r[0], r[1], r[2], r[3], round(r[4], 2), round(r[5], 1), r[6], r[7]] for r in rows])
    print(path)
    return 0
