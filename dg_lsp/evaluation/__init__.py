"""`dg-lsp eval humaneval-infilling`: fill HumanEval-Infilling spans through the engine and test them.

Light at import (no torch): the engine is loaded inside `run_eval`. Flags the CLI parser does not
define yet are read with `getattr` defaults, so `python -m dg_lsp.evaluation` can offer them early.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from dg_lsp.evaluation.data import DataNotFound, find_data_dir, load_problems, typed_problems
from dg_lsp.evaluation.harness import (FillFn, canonical_filler, engine_filler, evaluate, server_postprocess,
                                       summarise)
from dg_lsp.evaluation.report import Progress, table, write_samples
from dg_lsp.evaluation.sandbox import SandboxConfig, netns_available

# Token budgets per hole. No oracle length: the canonical middle's size is never used.
DEFAULT_MAX_TOKENS = {"single-line": 48, "multi-line": 128}
CANONICAL = "oracle:canonical"  # --model value that fills with the reference middle: a harness self-check


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The eval flags beyond those in dg_lsp/cli.py (for the CLI to adopt; `python -m` offers them now).
    Every default is None: `run_eval` applies the real defaults, so an absent flag is told apart."""
    parser.add_argument("--samples", default=None, metavar="FILE",
                        help="write one JSON line per candidate: task_id, completion (what goes between prompt "
                             "and suffix), our verdict; feed it to benchmarks/independent_check.py")
    parser.add_argument("--spread", action="store_true", default=None,
                        help="with --limit N: N problems evenly spaced over the subset instead of the first N")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="token budget per hole (default 48 single-line, 128 multi-line)")
    parser.add_argument("--workers", type=int, default=None, help="test programs run at once (default 2)")
    parser.add_argument("--memory-mb", type=int, default=None,
                        help="address-space limit per test program (default 1024)")
    parser.add_argument("--defer-tests", action="store_true", default=None,
                        help="run the tests after the last fill, so fill timings see an otherwise idle machine")
    parser.add_argument("--postprocess", action="store_true", default=None,
                        help="apply the server's fill post-processing (dg_lsp.edits) before testing")
    parser.add_argument("--typed", choices=["indent", "word"], default=None,
                        help="single-line only: the cursor after the line's indentation or after its first word "
                             "(`    return `), as an editor sends it while typing; lines with nothing typed or "
                             "nothing left are dropped")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed for alternatives (default 0)")
    parser.add_argument("--rule", choices=["threshold", "topk", "entropy"], default=None)
    parser.add_argument("--threshold", type=float, default=None)
    from dg_lsp.cli import key_value

    parser.add_argument("--sampler", action="append", default=None, metavar="KEY=VALUE", type=key_value,
                        help="a decoding setting over the model's defaults (a SamplerConfig field), e.g. "
                             "syntax_retries=0; repeatable")


def _opt(args: argparse.Namespace, name: str, default: Any) -> Any:
    value = getattr(args, name, None)
    return default if value is None else value


def _filler(args: argparse.Namespace, subset: str, max_tokens: int) -> tuple[FillFn, dict[str, Any]]:
    if args.model == CANONICAL:
        return canonical_filler, {"name": CANONICAL}
    from engine.api import load_engine

    from dg_lsp.cli import model_options

    engine = load_engine(args.model, device=args.device, trust_remote_code=getattr(args, "trust_remote_code", False),
                         **model_options(args))
    sampler = dict(_opt(args, "sampler", []))
    if sampler:
        from engine.sampler import with_fields

        if not hasattr(engine, "sampler"):
            raise ValueError(f"--sampler: model {args.model!r} is not decoded by the diffusion sampler")
        engine.sampler = with_fields(engine.sampler, sampler)
    fill = engine_filler(engine, single_line=subset == "single-line", max_tokens=max_tokens,
                         candidates=args.candidates, seed=_opt(args, "seed", 0), rule=getattr(args, "rule", None),
                         threshold=getattr(args, "threshold", None))
    return fill, dict(engine.info)


def run_eval(args: argparse.Namespace, *, fill: FillFn | None = None) -> int:
    """Run the benchmark named by `args`; print a table, or one JSON object with --json. `fill`
    replaces the engine (tests, and benchmarks that bring their own decoder). Returns the exit code."""
    subset = args.subset
    if args.candidates < 1:
        print(f"dg-lsp eval: --candidates must be at least 1, got {args.candidates}", file=sys.stderr)
        return 2
    try:
        problems = load_problems(find_data_dir(args.data), subset, args.limit,
                                 spread=bool(getattr(args, "spread", False)))
    except (DataNotFound, ValueError) as exc:
        print(f"dg-lsp eval: {exc}", file=sys.stderr)
        return 2
    typed = getattr(args, "typed", None)
    if typed:
        if subset != "single-line":
            print("dg-lsp eval: --typed applies to the single-line subset", file=sys.stderr)
            return 2
        problems = typed_problems(problems, typed)
    max_tokens = _opt(args, "max_tokens", DEFAULT_MAX_TOKENS[subset])
    sampler = dict(_opt(args, "sampler", []))
    if sampler:  # checked before a model is loaded: a typo fails at once
        from engine.sampler import SamplerConfig, with_fields

        try:
            with_fields(SamplerConfig(), sampler)
        except ValueError as exc:
            print(f"dg-lsp eval: --sampler: {exc}", file=sys.stderr)
            return 2
    start = time.perf_counter()
    injected = None if fill is None else getattr(fill, "__name__", "custom")
    if fill is None:
        try:
            fill, engine_info = _filler(args, subset, max_tokens)
        except (OSError, ValueError, RuntimeError, ImportError) as exc:  # missing weights, bad spec, no CUDA…
            print(f"dg-lsp eval: cannot load model {args.model!r}: {exc}", file=sys.stderr)
            return 2
    else:
        engine_info = {"name": injected}
    postprocess = bool(getattr(args, "postprocess", False))
    if postprocess:
        fill = server_postprocess(fill, single_line=subset == "single-line", max_tokens=max_tokens)
    load_s = time.perf_counter() - start

    sandbox = SandboxConfig(timeout_s=args.timeout, memory_mb=_opt(args, "memory_mb", 1024))
    start = time.perf_counter()
    results = evaluate(problems, fill, candidates=args.candidates, sandbox=sandbox,
                       workers=_opt(args, "workers", 2), defer_tests=bool(getattr(args, "defer_tests", False)),
                       progress=Progress(len(problems), subset))
    wall_s = time.perf_counter() - start

    model = args.model if injected is None else injected
    report: dict[str, Any] = {"benchmark": "humaneval-infilling", "subset": subset, "model": model}
    report.update(summarise(results, args.candidates))
    report.update({"spread": bool(getattr(args, "spread", False)), "typed": typed, "max_tokens": max_tokens,
                   "sampler": sampler,
                   "postprocess": postprocess, "timeout_s": args.timeout,
                   "load_s": round(load_s, 3), "wall_s": round(wall_s, 3), "engine": engine_info,
                   "sandbox": {"memory_mb": sandbox.memory_mb, "network_namespace": netns_available()}})
    samples = getattr(args, "samples", None)
    if samples:
        write_samples(samples, results, args.candidates)
    print(json.dumps(report) if args.json else table(report))
    failed = [r for r in results if r.error is not None]
    if failed:
        print(f"dg-lsp eval: {len(failed)} of {len(results)} fills failed (scored as failures); first: "
              f"{failed[0].task_id}: {failed[0].error}", file=sys.stderr)
    return 1 if results and len(failed) == len(results) else 0
