"""pass@1 against tokens seen: evaluate training runs' snapshots on the same HumanEval problems.

    python -m benchmarks.learning_curve runs/embedded [runs/embedded2 ...] --limit 100 [--subset single-line] \
        [--typed indent|word]

Snapshots are the `snapshot-*` folders `engine/train` writes every few minutes (named by tokens
seen) plus `final`; several runs (a warm-started continuation after its first run) make one curve.
For each snapshot it prints the held-out infill loss, computed here on the same validation batches
for every snapshot (nats per masked canvas token: the infilling objective alone, without the
streams' next-token loss that dominates the training log's `valid_loss`; one column per language
when the held-out split has several), and HumanEval pass@1, how many passes write two words or
more (not an empty line or a bare `return`), exact match and parse rate. `--typed word` puts the
cursor after each line's first word, as while typing (the engine's line lead).
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


def valid_languages(run: Path) -> list[str]:
    import gzip

    from engine.train.train import TrainConfig

    cfg = TrainConfig.load(run / "train_config.json")
    with gzip.open(Path(cfg.corpus) / "valid.jsonl.gz", "rt") as fh:
        return sorted({json.loads(line).get("language", "python") for line in fh})


def infill_losses(folder: Path, cfg, languages: list[str | None]) -> list[float]:
    """Held-out infill loss of the weights in `folder`, on the validation split and layout of `cfg`
    (a `TrainConfig`: its corpus, lengths and `eval_batches`), per entry of `languages` (a
    language's held-out files only; None: all of them). The model loads once."""
    from tokenizers import Tokenizer

    from engine.model import load_model
    from engine.train.data import ExampleMaker, load_texts
    from engine.train.train import validate

    model = load_model(folder)
    maker = ExampleMaker(model.cfg, Tokenizer.from_file(str(folder / "tokenizer.json")), cfg.seq_len,
                         cfg.prefix_tokens, cfg.suffix_tokens, cfg.aux_weight)
    valid = Path(cfg.corpus) / "valid.jsonl.gz"
    return [validate(model, maker, load_texts(valid, language=lang), cfg)[1] for lang in languages]


def main() -> None:
    import torch

    from dg_lsp.evaluation.data import find_data_dir, load_problems, typed_problems
    from dg_lsp.evaluation.harness import engine_filler, evaluate, summarise
    from engine.api import load_engine
    from engine.train.train import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--subset", default="single-line", choices=["single-line", "multi-line"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--points", type=int, default=0, help="at most this many snapshots, evenly spread (0: all)")
    ap.add_argument("--typed", choices=["indent", "word"], default=None,
                    help="single-line problems with the line's indentation or first word typed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    problems = load_problems(find_data_dir(None), args.subset, args.limit, spread=True)
    if args.typed:
        problems = typed_problems(problems, args.typed)
    print(f"{args.subset}{f', typed up to {args.typed}' if args.typed else ''}, {len(problems)} problems spread "
          f"over the set, greedy, one candidate\n")
    languages = valid_languages(args.runs[-1])
    per_language = len(languages) > 1  # one loss column per language of the held-out split
    loss_heads = [f"held-out infill loss, {lang}" for lang in languages] if per_language else ["held-out infill loss"]
    print(f"| tokens seen | run / snapshot | {' | '.join(loss_heads)} | pass@1 | passes, ≥ 2 words | exact | parses "
          "| fill tokens/pass p50 |")
    print("|---|---|" + "---|" * len(loss_heads) + "---|---|---|---|---|")
    points = sorted((tokens, run, folder) for run in args.runs for tokens, folder in snapshots(run))
    if args.points == 1:
        points = points[-1:]
    elif args.points and len(points) > args.points:  # evenly spread, the first and the last kept
        step = (len(points) - 1) / (args.points - 1)
        points = [points[round(i * step)] for i in range(args.points)]
    for tokens, run, folder in points:
        engine = load_engine(str(folder))
        fill = engine_filler(engine, single_line=args.subset == "single-line",
                             max_tokens=48 if args.subset == "single-line" else 128)
        s = summarise(evaluate(problems, fill), 1)
        losses = infill_losses(folder, TrainConfig.load(run / "train_config.json", eval_batches=8),
                               languages if per_language else [None])
        print(f"| {tokens / 1e6:.2f}M | {run.name}/{folder.name} | {' | '.join(f'{x:.3f}' for x in losses)} | {s['pass@1']:.3f} "
              f"| {s['line_passes']} | {s['exact']:.3f} | {s['parse']:.3f} | {s['fill_tokens_per_step_median']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
