"""Per-language line infilling on held-out packages: the metric HumanEval (Python only) cannot give.

    python -m benchmarks.heldout_lines [--corpus runs/corpus3] [--model DIR] [--per-language 200]
        [--languages python javascript typescript] [--typed word] [--samples S.jsonl] [--sampler KEY=VALUE ...]

From the corpus's validation split (whole packages never trained on: corpus.py's `--holdout`), it
takes files that tree-sitter parses without an error and, deterministically, lines of code in them
(not blank, not only a comment or a bracket); each line becomes a whole-line hole, as in HumanEval
single-line: the text before the line (up to `--prefix-chars`) and after it (up to `--suffix-chars`)
is the context, the length is unknown, decoding is greedy with one candidate, through `Engine.infill`
(the server's path, the syntax guard included). `--typed word` puts the cursor after the line's
indentation and first word, as while typing (HumanEval's `--typed word`); the fill is the rest of
the line, and lines with nothing typed or nothing left are skipped. Per language it prints:

* exact: the fill equals the line (surrounding whitespace aside)
* edit similarity: difflib's ratio between fill and line, mean (the CrossCodeEval/RepoBench "ES")
* parses: the whole file with the fill in place has no tree-sitter ERROR or MISSING node
* held-out infill loss: nats per masked canvas token on the language's held-out files (train.validate)
* latency p50 of a fill, ms
"""
from __future__ import annotations

import argparse
import difflib
import json
import random
import re
import statistics
import time
from pathlib import Path

_TRIVIAL = re.compile(r"^\s*([#/*]|[)\]}>;,]+\s*$|else\s*[:{]?\s*$|try\s*[:{]\s*$|\*/)")


def holes(texts: list[str], language: str, n: int, seed: int = 0, per_file: int = 8) -> list[tuple[str, int, int]]:
    """(file text, line start, line end without its newline) for `n` lines of code in files that parse
    cleanly, at most `per_file` from one file, chosen with `seed`."""
    from dg_lsp import languages

    rng = random.Random(seed)
    order = list(range(len(texts)))
    rng.shuffle(order)
    out: list[tuple[str, int, int]] = []
    for i in order:
        text = texts[i]
        tree = languages.parse(language, text)
        if tree is None or languages.count_errors(tree):
            continue
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        ends = [s - 1 for s in starts[1:]] + [len(text)]  # each line's end, before its newline
        code = [(s, e) for s, e in zip(starts, ends) if len(text[s:e].strip()) >= 4 and not _TRIVIAL.match(text[s:e])]
        for s, e in rng.sample(code, min(per_file, len(code))):
            out.append((text, s, e))
        if len(out) >= n:
            return out[:n]
    return out


def typed(cases: list[tuple[str, int, int]], upto: str) -> list[tuple[str, int, int]]:
    """The same lines with the cursor after what `upto` says is typed (`dg_lsp.evaluation.data.TYPED`)."""
    from dg_lsp.evaluation.data import TYPED

    out = []
    for text, s, e in cases:
        m = TYPED[upto].match(text, s, e)
        if m and m.end() > s and text[m.end():e].strip():
            out.append((text, m.end(), e))
    return out


def run(engine, language: str, cases, prefix_chars: int, suffix_chars: int) -> list[dict]:
    from dg_lsp import languages
    from engine.api import CancelToken, Hole, InfillRequest

    rows = []
    for text, s, e in cases:
        p = text.find("\n", s - prefix_chars) + 1 if s > prefix_chars else 0  # the window starts on a line
        p = p if 0 < p <= s else max(0, s - prefix_chars)  # (unless one line is longer than the window)
        request = InfillRequest(segments=[text[p:s], Hole(max_tokens=48, single_line=True), text[e:e + suffix_chars]],
                                language=language, temperature=0.0)
        t0 = time.perf_counter()
        fill = engine.infill(request, cancel=CancelToken()).candidates[0].fills[0].split("\n", 1)[0]
        ms = (time.perf_counter() - t0) * 1000
        want = text[s:e]
        doc = text[:s] + fill + text[e:]
        rows.append({"language": language, "line": want, "fill": fill, "ms": round(ms, 1),
                     "exact": fill.strip() == want.strip(),
                     "es": difflib.SequenceMatcher(None, fill.strip(), want.strip()).ratio(),
                     "parses": languages.count_errors(languages.parse(language, doc)) == 0})
    return rows


def main() -> None:
    import torch

    from benchmarks.learning_curve import infill_losses
    from engine.api import load_engine
    from engine.train.data import load_texts

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("runs/corpus3"))
    ap.add_argument("--model", type=Path, default=Path(__file__).resolve().parent.parent / "engine" / "weights")
    ap.add_argument("--languages", nargs="+", default=["python", "javascript", "typescript"])
    ap.add_argument("--per-language", type=int, default=200)
    ap.add_argument("--prefix-chars", type=int, default=1500)
    ap.add_argument("--suffix-chars", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--typed", choices=["indent", "word"], default=None,
                    help="the line's indentation or first word already typed")
    ap.add_argument("--samples", type=Path, default=None, help="write every fill here (JSON lines)")
    ap.add_argument("--no-loss", action="store_true", help="skip the held-out infill loss")
    from dg_lsp.cli import key_value

    ap.add_argument("--sampler", action="append", default=[], metavar="KEY=VALUE", type=key_value,
                    help="a SamplerConfig field over the model's defaults, e.g. syntax_retries=0; repeatable")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    valid = args.corpus / "valid.jsonl.gz"
    if not valid.exists():
        raise SystemExit(f"{valid} not found: build the corpus first (README, 'Training')")
    engine = load_engine(str(args.model))
    from benchmarks.sampler_variants import set_sampler

    set_sampler(engine, dict(args.sampler))
    losses: dict[str, float] = {}
    if not args.no_loss:  # the training layout's defaults, this corpus's held-out files, 8 batches
        from engine.train.train import TrainConfig

        cfg = TrainConfig(corpus=str(args.corpus), eval_batches=8)
        losses = dict(zip(args.languages, infill_losses(args.model, cfg, args.languages)))
    print(f"held-out lines of {args.corpus} ({args.model}), "
          f"{f'typed up to {args.typed}' if args.typed else 'whole-line holes'}, greedy, one candidate"
          + "".join(f", {k}={v}" for k, v in args.sampler) + "\n")
    print("| language | lines | exact | edit similarity | parses | held-out infill loss | p50 ms |")
    print("|---|---|---|---|---|---|---|")
    out = open(args.samples, "w") if args.samples else None
    for lang in args.languages:
        cases = holes(load_texts(valid, language=lang), lang, args.per_language, args.seed)
        if args.typed:
            cases = typed(cases, args.typed)
        if not cases:
            print(f"| {lang} | 0 | – | – | – | – | – |")
            continue
        rows = run(engine, lang, cases, args.prefix_chars, args.suffix_chars)
        for r in rows if out else ():
            out.write(json.dumps(r) + "\n")
        loss = f"{losses[lang]:.3f}" if losses else "–"
        n = len(rows)
        print(f"| {lang} | {n} | {sum(r['exact'] for r in rows) / n:.3f} | {statistics.mean(r['es'] for r in rows):.3f} "
              f"| {sum(r['parses'] for r in rows) / n:.3f} | {loss} | {statistics.median(r['ms'] for r in rows):.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
