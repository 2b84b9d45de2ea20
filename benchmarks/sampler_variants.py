"""Sampler and number-format variants on the same HumanEval infilling problems, in one run.

    python -m benchmarks.sampler_variants [--model embedded] [--subset single-line] [--limit 150] \
        [--variant NAME:KEY=VALUE,KEY=VALUE ...] [--threads 1] [--typed indent|word]

Each variant is the engine's default sampler with some `SamplerConfig` fields overridden (and
`dtype=` for the model's number format). The default set compares end runs on and off, end-of-middle
anchoring, and float32 against bfloat16; with `--typed indent|word` (the cursor after each line's
indentation or first word, as while typing) it compares the line lead on and off. Prints a Markdown
table: pass@1, how many first fills have content (not empty or whitespace), how many of those
pass, how many passing fills have two words or more (a line, not a bare `return` or `}`), parse
rate, ms per fill p50/p95, forward passes, tokens committed per pass (end-of-middle padding
included) and the fill's own tokens per pass.
"""
from __future__ import annotations

import argparse

DEFAULT_VARIANTS = [
    "default:",
    "no end runs:end_run=false",
    "anchored end-of-middle:anchor_eom=true",
    "float32:dtype=float32",
    "bfloat16:dtype=bfloat16",
]
TYPED_VARIANTS = ["line lead:", "no line lead:line_lead=false"]


def parse_variant(text: str) -> tuple[str, dict]:
    """`NAME:KEY=VALUE,KEY=VALUE` (values as `--model-option` reads them: JSON when it parses)."""
    from dg_lsp.cli import key_value

    name, _, spec = text.partition(":")
    try:
        fields = dict(key_value(item) for item in filter(None, spec.split(",")))
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(f"bad variant {text!r}: {exc}") from None
    return name.strip() or "default", fields


def set_sampler(engine, fields: dict) -> None:
    """SamplerConfig fields over the engine's defaults (the backend's); a bad field exits."""
    from engine.sampler import with_fields

    try:
        engine.sampler = with_fields(engine.sampler, fields)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


def run_variant(model: str, fields: dict, problems, subset: str) -> dict:
    from dg_lsp.evaluation.harness import engine_filler, evaluate, summarise
    from engine.api import load_engine

    fields = dict(fields)
    dtype = fields.pop("dtype", None)
    engine = load_engine(model, **({"dtype": dtype} if dtype else {}))
    set_sampler(engine, fields)
    single = subset == "single-line"
    fill = engine_filler(engine, single_line=single, max_tokens=48 if single else 128)
    results = evaluate(problems, fill, defer_tests=True)
    return {**summarise(results, 1), "dtype": engine.info["dtype"]}


def main() -> None:
    import torch

    from dg_lsp.evaluation.data import find_data_dir, load_problems, typed_problems

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--subset", default="single-line", choices=["single-line", "multi-line"])
    ap.add_argument("--limit", type=int, default=150)
    ap.add_argument("--variant", action="append", default=None, metavar="NAME:KEY=VALUE,...")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--typed", choices=["indent", "word"], default=None,
                    help="single-line problems with the line's indentation or first word typed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    problems = load_problems(find_data_dir(None), args.subset, args.limit, spread=True)
    if args.typed:
        problems = typed_problems(problems, args.typed)
    variants = [parse_variant(v) for v in (args.variant or (TYPED_VARIANTS if args.typed else DEFAULT_VARIANTS))]
    print(f"{args.subset}{f', typed up to {args.typed}' if args.typed else ''}, {len(problems)} problems spread over the set, "
          f"model {args.model}, {args.threads} thread(s)\n")
    print("| variant | dtype | pass@1 | with content | passes with content | passes, ≥ 2 words | parses | ms p50 | ms p95 "
          "| passes p50 | tokens/pass p50 | fill tokens/pass p50 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, fields in variants:
        r = run_variant(args.model, fields, problems, args.subset)
        print(f"| {name} | {r['dtype']} | {r['pass@1']:.3f} | {r['content']} | {r['content_passes']} | {r['line_passes']} "
              f"| {r['parse']:.3f} "
              f"| {r['ms_median']:.1f} | {r['ms_p95']:.1f} | {r['nfe_median']} | {r['tokens_per_step_median']:.2f} "
              f"| {r['fill_tokens_per_step_median']:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
