"""Diffusion against autoregression, and parallel against one-token-per-step decoding, on the same
HumanEval infilling problems in one run. Prints a Markdown table (pass@1, exact, parse rate, ms per
fill p50/p95, forward passes, tokens committed per pass — end-of-middle padding included, and the
fill's own tokens alone) and the speed ratios.

    python -m benchmarks.compare --diffusion engine/weights --ar runs/ar_baseline/final \
        --subset single-line --limit 200

Fills run first with the machine otherwise idle; tests run afterwards (`defer_tests`).
"""
from __future__ import annotations

import argparse
import json


def run_variant(label: str, model: str, problems, subset: str, max_tokens: int, rule: str | None = None,
                threshold: float | None = None, tokens_per_step: int | None = None) -> dict:
    from dg_lsp.evaluation.harness import engine_filler, evaluate, summarise
    from engine.api import load_engine

    engine = load_engine(model)
    if tokens_per_step is not None:  # one-token-per-step decoding: the top-k rule with k = 1, and
        engine.sampler.tokens_per_step = tokens_per_step  # nothing else committed in a step: no end
        engine.sampler.end_run = False  # runs, no adaptive stable-and-confident stop (an end-of-middle
        engine.sampler.stable_conf = 2.0  # still ends its hole: the positions after it are padding)
    fill = engine_filler(engine, single_line=subset == "single-line", max_tokens=max_tokens, rule=rule,
                         threshold=threshold)
    results = evaluate(problems, fill, defer_tests=True)
    return {"variant": label, "model": model, **summarise(results, 1)}


def main() -> None:
    import torch

    from dg_lsp.evaluation.data import find_data_dir, load_problems

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--diffusion", default="embedded")
    ap.add_argument("--ar", default=None, help="autoregressive baseline folder (causal_ar config)")
    ap.add_argument("--subset", default="single-line", choices=["single-line", "multi-line"])
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    problems = load_problems(find_data_dir(args.data), args.subset, args.limit, spread=True)
    max_tokens = 48 if args.subset == "single-line" else 128
    rows = [run_variant("diffusion, threshold rule (parallel)", args.diffusion, problems, args.subset, max_tokens),
            run_variant("diffusion, one token per step", args.diffusion, problems, args.subset, max_tokens,
                        rule="topk", tokens_per_step=1)]
    if args.ar:
        rows.append(run_variant("autoregressive FIM baseline", args.ar, problems, args.subset, max_tokens))
    print(f"{args.subset}, {len(problems)} problems (spread over the set), {args.threads} threads\n")
    print("| variant | pass@1 | exact | parses | ms p50 | ms p95 | passes p50 | tokens/pass p50 | fill tokens/pass p50 "
          "| errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    fmt = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731 (every fill failed)
    for r in rows:
        print(f"| {r['variant']} | {fmt(r['pass@1'], '.3f')} | {fmt(r['exact'], '.3f')} | {fmt(r['parse'], '.3f')} "
              f"| {fmt(r['ms_median'], '.1f')} | {fmt(r['ms_p95'], '.1f')} | {r['nfe_median']} "
              f"| {fmt(r['tokens_per_step_median'], '.2f')} | {fmt(r['fill_tokens_per_step_median'], '.2f')} "
              f"| {r['errors']} |")
    base = rows[0]
    for r in rows[1:]:
        if base["ms_median"] and r["ms_median"]:
            print(f"\n{base['variant']} vs {r['variant']}: {r['ms_median'] / base['ms_median']:.2f}x faster per fill "
                  f"(p50), pass@1 {100 * (base['pass@1'] - r['pass@1']):+.1f} points")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
