"""How often fills read a name that cannot exist, by outcome: the syntax guard's name check
(`SyntaxGuard._undefined`, engine/syntax.py) run over an evaluation's samples, and over the
canonical solutions as the false-positive count.

    dg-lsp eval humaneval-infilling --subset single-line --json --samples S.jsonl
    python -m benchmarks.name_check --samples S.jsonl [--subset single-line] [--show 10]

Counts only fills whose document parses (the check needs a parse). A samples file from a run with
the guard's name check on shows what is left; one from a run with it off (or an earlier commit)
shows what it has to catch.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter


def undefined(problem, completion: str, single_line: bool) -> tuple[tuple[int, int], ...] | None:
    """The guard's verdict on names for `completion` (a sample's, which ends with the hole's tail)
    in `problem`, laid out as the evaluation lays it out; None where the document does not parse."""
    from dg_lsp.evaluation.harness import HOLE_TAIL
    from engine.syntax import SyntaxGuard

    guard = SyntaxGuard.build("python", [problem.prompt, HOLE_TAIL + problem.suffix], [single_line])
    fill = completion.removesuffix(HOLE_TAIL)
    if guard._python_error(guard.document([fill])) is not None:
        return None
    return guard.judge([fill]).names


def main(argv: list[str] | None = None) -> None:
    from dg_lsp.evaluation.data import find_data_dir, load_problems

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", required=True, help="JSONL from `dg-lsp eval … --samples`")
    ap.add_argument("--subset", default="single-line", choices=["single-line", "multi-line"])
    ap.add_argument("--data", default=None)
    ap.add_argument("--show", type=int, default=0, help="print this many failing fills the check catches")
    args = ap.parse_args(argv)
    problems = {p.task_id: p for p in load_problems(find_data_dir(args.data), args.subset)}
    single = args.subset == "single-line"
    counts, shown = Counter(), 0
    for line in open(args.samples, encoding="utf-8"):
        sample = json.loads(line)
        if sample.get("candidate", 0) != 0 or sample.get("completion") is None:
            continue
        problem = problems[sample["task_id"]]
        counts["canonical solutions caught"] += bool(undefined(problem, problem.canonical_solution, single))
        outcome = "passing" if sample["passed"] else "failing"
        names = undefined(problem, sample["completion"], single)
        if names is None:
            counts[f"{outcome}, does not parse"] += 1
            continue
        counts[f"{outcome}, parses"] += 1
        counts[f"{outcome}, reads a name defined nowhere"] += bool(names)
        if names and outcome == "failing" and shown < args.show:
            shown += 1
            print(f"{sample['task_id']}: {sample['completion'].rstrip()!r}")
    for key in sorted(counts):
        print(f"{key}: {counts[key]}")


if __name__ == "__main__":
    main()
