"""The ``ttscale`` command line.

Each subcommand lives in ``ttscale.commands.<name>`` and exposes ``add_parser(subparsers)``
and ``main(args) -> int``; modules are imported only when their command runs, so
``ttscale --help`` stays fast. User-fixable errors print one clear line, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import BackendError, UserError

__all__ = ["main", "COMMANDS"]

#: subcommand → one-line help (module ttscale.commands.<name>)
COMMANDS: dict[str, str] = {
    "run": "run a strategy on a task and print accuracy and tokens (the main job)",
    "sweep": "replay strategies at many budgets over one bank and print accuracy vs compute",
    "report": "write a self-contained HTML report for a run directory",
    "serve": "serve the embedded model (--model) or a strategy proxy (--upstream) over the OpenAI API",
    "verify": "extract and check answers against a gold answer",
    "bank": "import or export sample banks",
    "strategies": "list the registered strategies with their parameters",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ttscale",
        description="Efficient test-time scaling of LLM reasoning: sample, verify, aggregate, "
                    "stop early, account for every token.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(f"ttscale.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ttscale.commands.{name}":
                raise
            continue  # a command not built yet
        p = module.add_parser(sub, help_text)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        argv = ["run"]  # `ttscale` alone runs the main job
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    try:
        return int(args._module.main(args) or 0)
    except UserError as exc:
        print(f"ttscale: error: {exc}", file=sys.stderr)
        return 2
    except BackendError as exc:
        print(f"ttscale: backend error: {exc}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # the reader went away (`ttscale ... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("ttscale: interrupted; every sample drawn so far is stored: `ttscale run --resume RUN_DIR` "
              "(or the same command with the same --out) continues without redrawing", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
