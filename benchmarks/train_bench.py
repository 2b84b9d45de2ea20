"""Training-step speed by number format: float32 against bf16-mixed (bfloat16 autocast), on the
same batches, interleaved so that a noisy machine slows both alike. Prints a Markdown table.

    python -m benchmarks.train_bench [--config engine/train/configs/embedded_continue4.json] \
        [--threads 2] [--repeats 6] [--batch-size 16] [--device cpu]

A step is what engine/train/train.py does per batch: forward, loss, backward and the AdamW update
(data preparation excluded). Needs the corpus and tokenizer the config names (runs/ by default;
`python -m engine.train.corpus` builds them); the model starts from random weights.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    import torch
    from tokenizers import Tokenizer

    from engine.model import DiffusionCoder, ModelConfig
    from engine.train.data import ExampleMaker, load_texts
    from engine.train.train import PRECISIONS, TrainConfig, autocast, loss_fn

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=Path("engine/train/configs/embedded_continue4.json"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=6, help="steps per number format (after one warm-up each)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the config's")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    base = TrainConfig.load(args.config, device=args.device)
    mcfg = ModelConfig.from_dict(base.model)
    tok = Tokenizer.from_file(base.tokenizer)
    mcfg.vocab_size = tok.get_vocab_size()
    torch.manual_seed(0)
    model = DiffusionCoder(mcfg).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    maker = ExampleMaker(mcfg, tok, base.seq_len, base.prefix_tokens, base.suffix_tokens, base.aux_weight,
                         base.aux_fraction)
    texts = load_texts(Path(base.corpus) / "valid.jsonl.gz")
    rng = random.Random(0)
    batches = [maker.batch(texts, rng, args.batch_size or base.batch_size) for _ in range(args.repeats + 1)]
    times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for i, batch in enumerate(batches):
        for precision in PRECISIONS:
            cfg = TrainConfig.load(args.config, device=args.device, precision=precision)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            with autocast(cfg):
                loss = loss_fn(model, batch, args.device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            if i:  # the first batch warms both formats up
                times[precision].append(time.perf_counter() - start)
    tokens = statistics.median(b.n_tokens for b in batches)
    ref = statistics.median(times["float32"])
    print(f"{args.config.name}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
          f"batch {args.batch_size or base.batch_size} x {base.seq_len}, {args.device}, {args.threads} thread(s), "
          f"{args.repeats} steps each\n")
    print("| precision | s/step p50 | s/step min | tokens/s p50 | speed-up (p50) |")
    print("|---|---|---|---|---|")
    for precision, xs in times.items():
        med = statistics.median(xs)
        print(f"| {precision} | {med:.2f} | {min(xs):.2f} | {tokens / med:.0f} | {ref / med:.2f}x |")


if __name__ == "__main__":
    main()
