"""`dg-lsp serve | fill | eval | bench` — argument parsing only; each command lives in its module.

Nothing heavy is imported here: `serve` must answer `initialize` before torch is loaded.
"""
from __future__ import annotations

import argparse
import sys


def key_value(text: str) -> tuple[str, object]:
    """`KEY=VALUE` with VALUE read as JSON when it parses (true, 8, 0.5, "x"), else as a string."""
    import json

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def model_options(args: argparse.Namespace) -> dict:
    return dict(getattr(args, "model_option", None) or [])


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="embedded",
                   help="embedded | random:tiny | a local model directory | a hub id | http(s)://remote")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: cuda if available, else cpu)")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow a hub/local model's own Python code to run (off by default)")
    p.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE", type=key_value,
                   help="backend option, e.g. dual_cache=true, cache_refresh=8, fim_template=...; repeatable")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dg-lsp", description="Diffusion-model code infilling for any LSP editor.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--stdio", action="store_true", help="speak LSP over stdin/stdout (default)")
    serve.add_argument("--tcp", action="store_true", help="listen on TCP instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1: local only)")
    serve.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    serve.add_argument("--model", default=None, help="engine spec; overrides the client's setting")
    serve.add_argument("--device", default=None)
    serve.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE", type=key_value,
                       help="backend option (dtype=float32, compile=true, …); overrides the client's modelOptions")
    serve.add_argument("--log-file", default=None, help="also write the server log here")

    fill = sub.add_parser("fill", help="fill holes in a file, or a JSONL stream of requests")
    fill.add_argument("file", nargs="?", help="source file (omit with --jsonl)")
    fill.add_argument("--hole", action="append", default=[], metavar="L:C-L:C",
                      help="replace this range (1-based line:column, end exclusive) with a fill; repeatable")
    fill.add_argument("--at", action="append", default=[], metavar="L:C", help="insert a fill at this point")
    fill.add_argument("--candidates", type=int, default=1)
    fill.add_argument("--max-tokens", type=int, default=64, help="token budget per hole")
    fill.add_argument("--single-line", action="store_true", help="cut each fill at its first newline")
    fill.add_argument("--temperature", type=float, default=0.0)
    fill.add_argument("--seed", type=int, default=0)
    fill.add_argument("--rule", choices=["threshold", "topk", "entropy"], default=None)
    fill.add_argument("--threshold", type=float, default=None)
    fill.add_argument("--language", default=None, help="language id (default: from the file extension)")
    fill.add_argument("--json", action="store_true", help="print one JSON object")
    fill.add_argument("--jsonl", metavar="IN", help="read one request per line from IN ('-' for stdin)")
    _add_engine_args(fill)

    ev = sub.add_parser("eval", help="evaluate on a benchmark")
    ev.add_argument("benchmark", choices=["humaneval-infilling"])
    ev.add_argument("--data", default=None, help="folder holding HumanEval-*Infilling.jsonl(.gz)")
    ev.add_argument("--subset", choices=["single-line", "multi-line"], default="single-line")
    ev.add_argument("--limit", type=int, default=None)
    ev.add_argument("--candidates", type=int, default=1)
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--timeout", type=float, default=5.0, help="seconds per test program")
    ev.add_argument("--max-tokens", type=int, default=None, help="token budget per hole (default 48 / 128)")
    ev.add_argument("--rule", choices=["threshold", "topk", "entropy"], default=None, help="acceptance rule")
    ev.add_argument("--threshold", type=float, default=None, help="confidence threshold for --rule threshold")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--spread", action="store_true", help="with --limit: take problems spread over the set")
    ev.add_argument("--typed", choices=["indent", "word"], default=None,
                    help="single-line: the cursor after the line's indentation or first word, as while typing")
    ev.add_argument("--samples", default=None, metavar="FILE", help="write per-problem fills as JSONL")
    ev.add_argument("--postprocess", action="store_true", help="pass fills through the server's post-processing")
    ev.add_argument("--workers", type=int, default=2, help="test programs run in parallel")
    ev.add_argument("--defer-tests", action="store_true", help="fill everything first, then run the tests")
    ev.add_argument("--sampler", action="append", default=[], metavar="KEY=VALUE", type=key_value,
                    help="a decoding setting over the model's defaults (a SamplerConfig field in "
                         "engine/sampler.py, e.g. syntax_retries=0); repeatable")
    _add_engine_args(ev)

    bench = sub.add_parser("bench", help="engine benchmarks (see benchmarks/ for the full set)")
    bench.add_argument("which", choices=["engine"], nargs="?", default="engine")
    bench.add_argument("--repeats", type=int, default=20)
    bench.add_argument("--threads", type=int, default=2)
    _add_engine_args(bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from dg_lsp.server import run_server

        return run_server(args) or 0
    if args.command == "fill":
        from dg_lsp.fill import run_fill

        return run_fill(args)
    if args.command == "eval":
        from dg_lsp.evaluation import run_eval

        return run_eval(args)
    if args.command == "bench":
        from benchmarks.engine_bench import run

        print(run(args.model, args.repeats, args.threads, args.device))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
