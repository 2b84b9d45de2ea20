"""Where a cold single-line fill's time goes: context encoding, the backend's step, the rest of the
denoising loop (the sampler), the syntax guard's checks. The same fills as `engine_bench`'s
latency table (1k context tokens: 768 before the hole, 256 after), mean ms per fill. Prints Markdown.

    python -m benchmarks.engine_split [--model embedded] [--repeats 20] [--threads 2] [--sampler KEY=VALUE ...] [--text DIR]
"""
from __future__ import annotations

import argparse
import time


def run(model: str = "embedded", repeats: int = 20, threads: int = 2, sampler: dict | None = None,
        text_root: str | None = None) -> str:
    import torch

    import engine.runtime as runtime
    from benchmarks.engine_bench import code_text, cut
    from benchmarks.sampler_variants import set_sampler
    from engine.api import Hole, InfillRequest, load_engine
    from engine.syntax import SyntaxGuard

    torch.set_num_threads(threads)
    engine = load_engine(model)
    set_sampler(engine, sampler or {})
    spent = {"step": 0.0, "denoise": 0.0, "guard": 0.0, "passes": 0}

    def timed(key, fn, count=False):
        def wrapper(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            spent[key] += time.perf_counter() - t
            spent["passes"] += count
            return out
        return wrapper

    step, denoise, judge = engine.backend.step, runtime.denoise, SyntaxGuard.judge
    engine.backend.step = timed("step", step, count=True)
    runtime.denoise = timed("denoise", denoise)
    SyntaxGuard.judge = timed("guard", judge)
    try:
        text = code_text(text_root)
        requests = []
        for r in range(repeats + 1):
            p, _, suffix = cut(engine, text, r)
            requests.append(InfillRequest([p, Hole(max_tokens=48, single_line=True), suffix], cache_key=f"split{r}"))
        engine.infill(requests[0])  # warm-up: kernels, token tables
        for k in spent:
            spent[k] = 0
        total = context = 0.0
        for req in requests[1:]:
            t = time.perf_counter()
            res = engine.infill(req)
            total += time.perf_counter() - t
            context += res.stats.ms["context"] / 1e3
    finally:
        engine.backend.step, runtime.denoise, SyntaxGuard.judge = step, denoise, judge
    n = repeats
    ms = lambda x: f"{x / n * 1e3:.1f}"
    rows = [("whole fill", ms(total)), ("context encoding", ms(context)),
            (f"backend step ({spent['passes'] / n:.1f} passes)", ms(spent["step"])),
            ("rest of the denoising loop (sampler)", ms(spent["denoise"] - spent["step"])),
            ("syntax guard checks", ms(spent["guard"]))]
    return "\n".join([f"model `{model}`, {threads} threads, {n} cold fills, mean ms per fill", "",
                      "| part | ms |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    from dg_lsp.cli import key_value

    ap.add_argument("--sampler", action="append", default=[], metavar="KEY=VALUE", type=key_value)
    ap.add_argument("--text", default=None, metavar="DIR",
                    help="take the context from the .py files under DIR (default: this checkout's engine/)")
    args = ap.parse_args()
    print(run(args.model, args.repeats, args.threads, dict(args.sampler), args.text))


if __name__ == "__main__":
    main()
