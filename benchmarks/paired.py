"""Paired comparison of `dg-lsp eval --samples` files: the same problems, two or more runs.

    python -m benchmarks.paired BASE.jsonl OTHER.jsonl [MORE.jsonl ...]

Every run is compared with the first on the problems both hold (the first candidate of each): pass@1
of each, problems passed only by the other (+) and only by the base (−), fills that differ, and a
two-sided sign test over the problems whose outcome changed (exact binomial, p = 1/2): the
p-value says how often a coin would split the changed problems at least this unevenly. A model or
decoding that helps moves + against −; many changed fills with + ≈ − is noise. Prints Markdown.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def load(path: str | Path) -> dict[str, dict]:
    """task_id → the first candidate's row of a samples file (JSON lines)."""
    rows: dict[str, dict] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if row.get("candidate", 0) == 0:
                    rows[row["task_id"]] = row
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise SystemExit(f"{path}:{n}: not a `dg-lsp eval --samples` line ({exc})") from None
    if not rows:
        raise SystemExit(f"{path}: no samples")
    return rows


def sign_test(plus: int, minus: int) -> float:
    """Two-sided exact sign test: P(a split at least as uneven as plus/minus) for a fair coin."""
    n = plus + minus
    if n == 0:
        return 1.0
    k = min(plus, minus)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def compare(base: dict[str, dict], other: dict[str, dict]) -> dict:
    common = sorted(base.keys() & other.keys())
    plus = sum(1 for t in common if other[t]["passed"] and not base[t]["passed"])
    minus = sum(1 for t in common if base[t]["passed"] and not other[t]["passed"])
    changed = sum(1 for t in common if other[t].get("completion") != base[t].get("completion"))
    n = len(common)
    return {"n": n, "base": sum(base[t]["passed"] for t in common) / n if n else 0.0,
            "other": sum(other[t]["passed"] for t in common) / n if n else 0.0,
            "plus": plus, "minus": minus, "changed": changed, "p": sign_test(plus, minus)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="the reference run's samples")
    ap.add_argument("others", nargs="+", help="runs to compare with it")
    args = ap.parse_args(argv)
    base = load(args.base)
    lines = [f"against `{args.base}`", "",
             "| run | problems | pass@1 base | pass@1 run | + | − | fills changed | sign test p |",
             "|---|---|---|---|---|---|---|---|"]
    for path in args.others:
        c = compare(base, load(path))
        if c["n"] == 0:
            raise SystemExit(f"{path}: no problem in common with {args.base}")
        lines.append(f"| `{path}` | {c['n']} | {c['base']:.4f} | {c['other']:.4f} | {c['plus']} | {c['minus']} "
                     f"| {c['changed']} | {c['p']:.2f} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
