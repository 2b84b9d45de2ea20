"""`python -m dg_lsp.evaluation humaneval-infilling …`: `dg-lsp eval` plus the flags of `add_arguments`
that dg_lsp/cli.py does not define (yet). Flags the CLI does define keep the CLI's meaning."""
from __future__ import annotations

import argparse
import sys

from dg_lsp.cli import build_parser
from dg_lsp.evaluation import add_arguments, run_eval


def main(argv: list[str] | None = None) -> int:
    extra_parser = argparse.ArgumentParser(prog="python -m dg_lsp.evaluation", add_help=False)
    add_arguments(extra_parser)
    argv = sys.argv[1:] if argv is None else argv
    if "-h" in argv or "--help" in argv:
        print(extra_parser.format_help().replace("usage:", "extra flags:", 1))
    extra, rest = extra_parser.parse_known_args(argv)
    args = build_parser().parse_args(["eval", *rest])
    for name, value in vars(extra).items():  # all default to None: set only what was given or is missing
        if value is not None or not hasattr(args, name):
            setattr(args, name, value)
    return run_eval(args)


if __name__ == "__main__":
    sys.exit(main())
