"""Tiny-model numbers for the transformers backends (no downloads):

* the dual cache's quality cost against the exact path — greedy fills over N random requests cut
  from this repository's own source (agreement of fills and of tokens), and the one-step staleness
  of a cached step (top-1 agreement and KL to the exact step on the same canvas);
* per-step milliseconds of the exact path, the dual cache, and DiffusionGemma.

    python -m benchmarks.hf_backends_bench   # ~15 min on a busy 2-core CPU

Untrained random weights barely use context (a cached step then matches the exact one to ~1e-8
nats), so by default the quality models first get 1500 masked-diffusion training steps on dg_lsp/'s
source; the numbers are still those of tiny models, not of an 8B checkpoint.
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import torch

from engine.api import Hole, InfillRequest, load_engine
from engine.canvas import Layout

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = ROOT / "engine" / "weights" / "tokenizer.json"


def _tokenizer(**extra):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER), pad_token="<|pad|>", mask_token="<|mask|>",
                                   eos_token="<|eos|>", **extra)


def build_models(folder: Path, hidden: int) -> dict[str, Path]:
    from transformers import (BertConfig, BertForMaskedLM, DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion,
                              GemmaConfig, GemmaForCausalLM)

    torch.manual_seed(0)
    out = {}
    bert = BertForMaskedLM(BertConfig(vocab_size=8192, hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=2 * hidden, max_position_embeddings=1024, pad_token_id=0))
    gemma = GemmaForCausalLM(GemmaConfig(vocab_size=8192, hidden_size=hidden, intermediate_size=2 * hidden,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                         head_dim=hidden // 2, use_bidirectional_attention=True, pad_token_id=0,
                                         eos_token_id=6, bos_token_id=3))
    text = dict(vocab_size=8192, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=1, head_dim=hidden // 2, global_head_dim=hidden // 2,
                num_global_key_value_heads=1, layer_types=["sliding_attention", "full_attention"], sliding_window=512,
                max_position_embeddings=4096, num_experts=2, top_k_experts=1, moe_intermediate_size=hidden // 2,
                pad_token_id=0, eos_token_id=6, bos_token_id=3)
    vision = dict(model_type="gemma4_vision", hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                  num_attention_heads=2, num_key_value_heads=2, head_dim=8, position_embedding_size=64)
    dg = DiffusionGemmaForBlockDiffusion(DiffusionGemmaConfig(text_config=text, vision_config=vision, canvas_length=128))
    same = GemmaForCausalLM(gemma.config)  # the same architecture trained without the shift
    for name, model, extra in (("bert", bert, {}), ("shifted", gemma, {}), ("same", same, {}),
                               ("dgemma", dg, {"bos_token": "<|pre|>"})):
        (folder / name).mkdir()
        model.eval().save_pretrained(folder / name)
        _tokenizer(**extra).save_pretrained(folder / name)
        out[name] = folder / name
    return out


def train(folder: Path, steps: int, shifted: bool, seq: int = 96, batch: int = 8, seed: int = 0) -> float:
    """A few hundred masked-diffusion steps (random mask ratio, cross-entropy on masked positions;
    Sahoo et al. 2024's MDLM objective without the 1/t weight) on dg_lsp/'s source, so that
    predictions depend on context and the dual cache's staleness shows. Returns the last loss."""
    from engine.backends.hf_masked import shift_logits

    tok = _tokenizer()
    ids = torch.tensor(tok.encode("\n\n".join(p.read_text() for p in sorted((ROOT / "dg_lsp").rglob("*.py"))),
                                  add_special_tokens=False))
    import transformers

    arch = json.loads((folder / "config.json").read_text())["architectures"][0]
    model = getattr(transformers, arch).from_pretrained(folder).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    loss = torch.tensor(0.0)
    with torch.enable_grad():
        for _ in range(steps):
            starts = torch.randint(0, len(ids) - seq, (batch,), generator=gen)
            x = torch.stack([ids[s:s + seq] for s in starts])
            t = torch.rand(batch, 1, generator=gen).clamp(0.05, 1.0)
            masked = torch.rand(x.shape, generator=gen) < t
            logits = model(input_ids=torch.where(masked, torch.full_like(x, 1), x)).logits
            logits = shift_logits(logits) if shifted else logits
            loss = torch.nn.functional.cross_entropy(logits[masked], x[masked])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval().save_pretrained(folder)
    return float(loss)


def random_requests(n: int, seed: int = 0) -> list[InfillRequest]:
    rng = random.Random(seed)
    files = sorted(p for p in (ROOT / "engine").rglob("*.py") if p.stat().st_size > 2000)
    reqs = []
    for _ in range(n):
        text = rng.choice(files).read_text()
        cut = rng.randrange(400, len(text) - 400)
        gap = rng.randrange(10, 80)
        reqs.append(InfillRequest(segments=[text[max(0, cut - 600):cut], Hole(max_tokens=16),
                                            text[cut + gap:cut + gap + 300]]))
    return reqs


def agreement(folder: Path, reqs: list[InfillRequest], refresh: int, **opts) -> dict:
    exact = load_engine(str(folder), **opts)
    dual = load_engine(str(folder), dual_cache=True, cache_refresh=refresh, **opts)
    same, tok_same, tok_all = 0, 0, 0
    for r in reqs:
        a, b = exact.infill(r).fills[0], dual.infill(r).fills[0]
        same += a == b
        ta, tb = exact.backend.encode(a), dual.backend.encode(b)
        tok_same += sum(x == y for x, y in zip(ta, tb))
        tok_all += max(len(ta), len(tb), 1)
    return {"refresh": refresh, "fills_identical": same / len(reqs), "token_agreement": tok_same / tok_all}


def staleness(folder: Path, reqs: list[InfillRequest], **opts) -> dict:
    """Refresh on an all-mask canvas, commit half the canvas to the exact greedy tokens, then compare
    one cached step with the exact step on that canvas."""
    exact = load_engine(str(folder), **opts).backend
    dual = load_engine(str(folder), dual_cache=True, cache_refresh=1000, **opts).backend
    top1, kl, n = 0.0, 0.0, 0
    with torch.inference_mode():
        for r in reqs:
            pre, hole, suf = r.segments
            lay = Layout([exact.encode(pre)[-600:], exact.encode(suf)], [hole.max_tokens])
            masked = torch.full((1, hole.max_tokens), exact.mask_id)
            ctx = dual.prepare(lay, None)
            first = dual.step(ctx, masked, lay)
            half = torch.rand(masked.shape, generator=torch.Generator().manual_seed(n)) < 0.5
            canvas = torch.where(half, first.argmax(-1), masked)
            want = exact.step(exact.prepare(lay, None), canvas, lay).log_softmax(-1)
            got = dual.step(ctx, canvas, lay).log_softmax(-1)
            open_ = ~half[0]
            top1 += (want.argmax(-1) == got.argmax(-1))[0, open_].float().mean().item()
            kl += (want.exp() * (want - got)).sum(-1)[0, open_].mean().item()
            n += 1
    return {"cached_step_top1_agreement": top1 / n, "cached_step_kl_nats": kl / n}


def step_ms(folder: Path, canvas: int, context: int, batch: int = 1, repeat: int = 20, **opts) -> float:
    b = load_engine(str(folder), **opts).backend
    text = (ROOT / "engine" / "runtime.py").read_text()
    ids = b.encode(text)
    lay = Layout([ids[:context * 3 // 4], ids[context:context + context // 4]], [canvas])
    x = torch.randint(10, 8000, (batch, canvas))
    with torch.inference_mode():
        ctx = b.prepare(lay, None)
        for _ in range(3):
            b.step(ctx, x, lay)
        t = time.perf_counter()
        for _ in range(repeat):
            b.step(ctx, x, lay)
    return (time.perf_counter() - t) / repeat * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=24)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--train-steps", type=int, default=1500, help="0: measure the untrained random models")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; on a busy machine 2 OpenMP threads thrash (a 64x32 matmul took 67 ms)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    reqs = random_requests(args.requests)

    def emit(section: str, value) -> None:  # one JSON line per result: a slow machine still shows progress
        print(json.dumps({section: value}), flush=True)

    emit("setup", {"requests": args.requests, "hidden": args.hidden, "threads": torch.get_num_threads()})
    with tempfile.TemporaryDirectory() as tmp:
        m = build_models(Path(tmp), args.hidden)
        shifted = {"logit_shift": True, "mask_id": 1}
        c = args.context
        emit("step_ms", {"canvas": 32, "context": c, "diffusion_gemma": step_ms(m["dgemma"], 32, c),
                         "bert_exact": step_ms(m["bert"], 32, c),
                         "bert_dual_cached": step_ms(m["bert"], 32, c, dual_cache=True, cache_refresh=1000),
                         "shifted_exact": step_ms(m["shifted"], 32, c, **shifted),
                         "shifted_dual_cached": step_ms(m["shifted"], 32, c, dual_cache=True, cache_refresh=1000,
                                                        **shifted)})
        # quality: the bidirectional Gemma trained as a same-position masked LM and as a shifted
        # (Dream-style) one; post-LN BERT did not learn to use context at this size and budget
        same = {"logit_shift": False, "mask_id": 1}
        t0 = time.perf_counter()
        if args.train_steps:
            emit("train", {"steps": args.train_steps, "same_loss": train(m["same"], args.train_steps, False),
                           "shifted_loss": train(m["shifted"], args.train_steps, True),
                           "seconds": time.perf_counter() - t0})
        for name, opts in (("same", same), ("shifted", shifted)):
            emit(f"{name}_staleness", staleness(m[name], reqs, **opts))
            for k in (4, 8, 16):
                emit(f"{name}_agreement", agreement(m[name], reqs, k, **opts))


if __name__ == "__main__":
    main()
