"""Byte-level BPE for the embedded model, trained with the `tokenizers` library.

Special tokens come first so their ids are fixed (see `SPECIALS`): the diffusion objective needs a
mask and an end-of-middle/pad token; the autoregressive FIM baseline needs prefix/suffix/middle
sentinels and an end-of-sequence.

    python -m engine.train.tokenizer --corpus runs/corpus --out runs/tokenizer.json --vocab 8192
"""
from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

# Order fixes the ids: PAD=0, MASK=1, EOM=2, ...
SPECIALS = ["<|pad|>", "<|mask|>", "<|eom|>", "<|pre|>", "<|suf|>", "<|mid|>", "<|eos|>"]


def iter_texts(corpus: Path, limit_mb: float) -> Iterator[str]:
    budget = int(limit_mb * 1e6)
    with gzip.open(corpus / "train.jsonl.gz", "rt") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            budget -= len(text)
            yield text
            if budget <= 0:
                return


def train_tokenizer(texts: Iterator[str], vocab_size: int = 8192):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    # add_prefix_space=False: a fill must decode to exactly the text the model meant, with no
    # phantom leading space; use_regex splits on GPT-2-style word boundaries.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("runs/corpus"))
    ap.add_argument("--out", type=Path, default=Path("runs/tokenizer.json"))
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--limit-mb", type=float, default=30.0)
    args = ap.parse_args(argv)
    if args.vocab > 16384:
        raise SystemExit("vocabulary must be at most 16k")
    tok = train_tokenizer(iter_texts(args.corpus, args.limit_mb), args.vocab)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(args.out))
    print(f"tokenizer: {tok.get_vocab_size()} tokens -> {args.out}")


if __name__ == "__main__":
    main()
