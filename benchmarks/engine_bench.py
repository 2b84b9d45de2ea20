"""Engine benchmarks: step time against context length (the cache's proof), cold and warm
single-line latency with 1k context tokens (issue 3's figure: 768 before the hole, 256 after it),
candidates 1 vs 3. Prints Markdown tables.

    python -m benchmarks.engine_bench [--model embedded] [--repeats 20] [--threads 2] [--dtype float32] \
        [--compile [MODE]] [--sampler fallback=confident ...] [--prefix-tokens 768] [--suffix-tokens 256] [--text DIR]
    dg-lsp bench engine

Until session 8 the fills had a 1k-token prefix and 1,500 characters of suffix (~1.45k context
tokens in all): `--prefix-tokens 1024 --suffix-tokens 450` comes close to that.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def code_text(root: str | Path | None = None) -> str:
    """Real Python to use as context: the `.py` files under `root`, by default this project's engine
    sources (always present). They change as the engine does: to compare two versions of the
    engine, give both the same folder (`--text`, e.g. a copy made with `git archive HEAD engine`)."""
    root = Path(root) if root else Path(__file__).resolve().parents[1] / "engine"
    return "\n\n".join(p.read_text() for p in sorted(root.rglob("*.py")))


def context_of(engine, text: str, tokens: int) -> str:
    """A prefix of about `tokens` tokens ending at a line start (where a single-line hole goes)."""
    lo, hi = 0, len(text)
    while hi - lo > 64:  # bisect on characters
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if engine.count_tokens(text[:mid]) < tokens else (lo, mid)
    cut = text.rfind("\n", 0, lo) + 1
    return text[:cut]


def step_times(engine, text: str, sizes: list[int], canvas: int, repeats: int) -> dict[int, float]:
    import torch

    from engine.canvas import Layout

    out = {}
    be = engine.backend
    for n in sizes:
        ids = be.encode(context_of(engine, text, n))[-n:]
        layout = Layout([ids[: n * 3 // 4], ids[n * 3 // 4:]], [canvas])
        ctx = be.prepare(layout, None)
        x = torch.full((1, canvas), be.mask_id, dtype=torch.long)
        with torch.inference_mode():
            for _ in range(3):
                be.step(ctx, x, layout)
            ts = []
            for _ in range(repeats):
                t = time.perf_counter()
                be.step(ctx, x, layout)
                ts.append((time.perf_counter() - t) * 1e3)
        out[n] = statistics.median(ts)
    return out


PREFIX_TOKENS, SUFFIX_TOKENS = 768, 256  # 1k context tokens in all


def cut(engine, text: str, r: int, prefix_tokens: int = PREFIX_TOKENS,
        suffix_tokens: int = SUFFIX_TOKENS) -> tuple[str, str, str]:
    """The r-th benchmark fill: (prefix of about `prefix_tokens` tokens up to a line's indentation,
    that line's rest, the whole lines after it up to about `suffix_tokens` tokens). A different cut
    each time: a line of real code is the hole."""
    lines = text.splitlines(keepends=True)
    start = (r * 37) % max(1, len(lines) - 400)
    prefix = context_of(engine, "".join(lines[start:]), prefix_tokens)
    rest = "".join(lines[start:])[len(prefix):]
    line_end = rest.find("\n") + 1
    while line_end and not rest[:line_end].strip():  # a blank line is no hole: it joins the prefix
        prefix, rest = prefix + rest[:line_end], rest[line_end:]
        line_end = rest.find("\n") + 1
    suffix = context_of(engine, rest[line_end:], suffix_tokens)
    indent = rest[: len(rest[:line_end]) - len(rest[:line_end].lstrip())]
    return prefix + indent, rest[len(indent):line_end], suffix


def latency(engine, text: str, repeats: int, candidates: int = 1, prefix_tokens: int = PREFIX_TOKENS,
            suffix_tokens: int = SUFFIX_TOKENS) -> dict[str, list[float]]:
    from engine.api import Hole, InfillRequest

    cold, warm, nfes, tps, ctx = [], [], [], [], []
    for r in range(repeats):
        p, line, suffix = cut(engine, text, r, prefix_tokens, suffix_tokens)
        t = time.perf_counter()
        res = engine.infill(InfillRequest([p, Hole(max_tokens=48, single_line=True), suffix],
                                          candidates=candidates, cache_key=f"bench{r}"))
        cold.append((time.perf_counter() - t) * 1e3)
        nfes.append(res.stats.nfe)
        tps.append(res.stats.tokens_per_step)
        ctx.append(res.stats.context_tokens)
        # one character typed at the cursor: the cached prefix is reused up to the change
        typed = p + (line[:1] or "x")
        t = time.perf_counter()
        engine.infill(InfillRequest([typed, Hole(max_tokens=48, single_line=True), suffix],
                                    candidates=candidates, cache_key=f"bench{r}"))
        warm.append((time.perf_counter() - t) * 1e3)
    return {"cold": cold, "warm": warm, "nfe": nfes, "tokens_per_step": tps, "context": ctx}


def run(model: str = "embedded", repeats: int = 20, threads: int = 2, device: str | None = None,
        dtype: str | None = None, compile: str | None = None, sampler: dict | None = None,
        prefix_tokens: int = PREFIX_TOKENS, suffix_tokens: int = SUFFIX_TOKENS, text_root: str | None = None) -> str:
    import torch

    from engine.api import load_engine

    torch.set_num_threads(threads)
    options = {**({"dtype": dtype} if dtype else {}), **({"compile": compile} if compile else {})}
    t0 = time.perf_counter()
    engine = load_engine(model, device, **options)
    load_s = time.perf_counter() - t0
    from benchmarks.sampler_variants import set_sampler

    set_sampler(engine, sampler or {})
    text = code_text(text_root)
    sizes = [128, 512, 1024, 2048]
    st = step_times(engine, text, sizes, canvas=16, repeats=repeats)
    lines = [f"model `{model}` on {engine.info['device']} ({engine.info['dtype']}), {threads} threads, {repeats} repeats, "
             f"compile {engine.info.get('compile', 'off')}, fallback {engine.sampler.fallback}, loaded in {load_s:.1f} s", "",
             "| context tokens | ms per step (canvas 16, median) | × vs 128 |", "|---|---|---|"]
    lines += [f"| {n} | {st[n]:.2f} | {st[n] / st[128]:.2f} |" for n in sizes]
    lat1 = latency(engine, text, repeats, 1, prefix_tokens, suffix_tokens)
    lat3 = latency(engine, text, max(5, repeats // 2), 3, prefix_tokens, suffix_tokens)
    n_ctx = statistics.median(lat1["context"])
    lines += ["", f"| single-line infill, {n_ctx:.0f} context tokens (median) | p50 ms | p95 ms |", "|---|---|---|"]
    for name, xs in (("cold, 1 candidate", lat1["cold"]), ("warm after a 1-char edit, 1 candidate", lat1["warm"]),
                     ("cold, 3 candidates", lat3["cold"]), ("warm, 3 candidates", lat3["warm"])):
        lines.append(f"| {name} | {_pct(xs, 0.5):.1f} | {_pct(xs, 0.95):.1f} |")
    lines += ["", f"median forward passes {statistics.median(lat1['nfe'])}, "
              f"median tokens committed per pass {statistics.median(lat1['tokens_per_step']):.2f} "
              "(eom padding included; quality-bearing figures come from `dg-lsp eval`)"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default=None, help="auto | float32 | bfloat16 | float16 (default auto)")
    ap.add_argument("--compile", nargs="?", const="default", default=None,
                    help="torch.compile the step (default mode, or a mode such as reduce-overhead)")
    from dg_lsp.cli import key_value

    ap.add_argument("--sampler", action="append", default=[], metavar="KEY=VALUE", type=key_value,
                    help="a SamplerConfig field over the model's defaults, e.g. fallback=confident; repeatable")
    ap.add_argument("--prefix-tokens", type=int, default=PREFIX_TOKENS, help="context before the hole (default 768)")
    ap.add_argument("--suffix-tokens", type=int, default=SUFFIX_TOKENS, help="context after it (default 256)")
    ap.add_argument("--text", default=None, metavar="DIR",
                    help="take the context from the .py files under DIR (default: this checkout's engine/)")
    args = ap.parse_args()
    print(run(args.model, args.repeats, args.threads, args.device, args.dtype, args.compile, dict(args.sampler),
              args.prefix_tokens, args.suffix_tokens, args.text))


if __name__ == "__main__":
    main()
