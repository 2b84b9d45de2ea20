"""pass@1 against tokens seen: evaluate a training run's snapshots on the same HumanEval problems.

    python -m benchmarks.learning_curve runs/embedded --limit 100 [--subset single-line]

Snapshots are the `snapshot-*` folders `engine/train` writes every few minutes (named by tokens
seen) plus `final`. Prints a Markdown table with the validation loss logged nearest each snapshot.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def snapshots(run: Path) -> list[tuple[int, Path]]:
    out = []
    for d in run.glob("snapshot-*"):
        tag = d.name.removeprefix("snapshot-")
        tokens = int(tag[:-1]) * 1_000_000 if tag.endswith("M") else int(tag[:-1]) * 1000
        if (d / "tokenizer.json").exists():
            out.append((tokens, d))
    state = run / "ckpt" / "state.json"
    if (run / "final" / "model.safetensors").exists() and state.exists():
        out.append((json.loads(state.read_text())["tokens"], run / "final"))
    return sorted(out)


def main() -> None:
    import torch

    from dg_lsp.evaluation.data import find_data_dir, load_problems
    from dg_lsp.evaluation.harness import engine_filler, evaluate, summarise
    from engine.api import load_engine

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--subset", default="single-line", choices=["single-line", "multi-line"])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    problems = load_problems(find_data_dir(None), args.subset, args.limit, spread=True)
    log = [json.loads(line) for line in open(args.run / "log.jsonl")]
    valid = {r["tokens"]: r["valid_loss"] for r in log if "valid_loss" in r}
    print(f"{args.subset}, {len(problems)} problems spread over the set, greedy, one candidate\n")
    print("| tokens seen | snapshot | valid loss (nearest) | pass@1 | exact | parses |")
    print("|---|---|---|---|---|---|")
    for tokens, folder in snapshots(args.run):
        engine = load_engine(str(folder))
        fill = engine_filler(engine, single_line=args.subset == "single-line",
                             max_tokens=48 if args.subset == "single-line" else 128)
        s = summarise(evaluate(problems, fill), 1)
        near = min(valid, key=lambda t: abs(t - tokens)) if valid else None
        vl = f"{valid[near]:.3f}" if near is not None else "n/a"
        print(f"| {tokens / 1e6:.2f}M | {folder.name} | {vl} | {s['pass@1']:.3f} | {s['exact']:.3f} | {s['parse']:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
