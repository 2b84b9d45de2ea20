"""Training examples shaped like inference.

An example is a character window of one source file with 1–3 holes cut at the places an editor
makes them (a whole line, several lines, the rest of a line, an arbitrary span, sometimes nothing).
Each text segment and each middle is tokenized *separately*, exactly as the engine tokenizes a
request, so hole boundaries never fall inside a token the model was trained on.

Diffusion layout (per example): context streams first, then canvases. A canvas holds its middle's
tokens followed by end-of-middle tokens up to a length bucket; when the middle is longer than the
bucket, the canvas holds the middle's first tokens and no end-of-middle, which teaches "this hole
needs to grow". Positions are document positions (canvases take their bucket's width).

AR layout (`causal_ar`): <pre> prefix <suf> suffix <mid> middle <eos> in one causal stream (PSM).
"""
from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.model import ModelConfig


@dataclass
class Batch:
    ids: torch.Tensor  # [B, L] inputs (mask id at masked canvas positions)
    targets: torch.Tensor  # [B, L] token to predict at each position, -100 where no loss
    weights: torch.Tensor  # [B, L] loss weight (1/t on masked canvas, aux weight on streams)
    pos: torch.Tensor  # [B, L]
    kind: torch.Tensor  # [B, L] 0 stream, 1 canvas
    mask: torch.Tensor | None  # [B, 1, L, L] bool attention mask; None: `block_mask(sid)` where it is used
    n_tokens: int  # non-pad tokens
    sid: torch.Tensor | None = None  # [B, L] -2 pad, -1 canvas (<= -3: further canvas copies), >= 0 stream

    def attention_mask(self, device: str | torch.device) -> torch.Tensor:
        """The [B, 1, L, L] mask on `device`; built there from `sid` when the batch came without one
        (a worker's batch: the mask is L times the size of everything else, not worth a copy)."""
        return self.mask.to(device) if self.mask is not None else block_mask(self.sid.to(device))

    def pin_memory(self) -> "Batch":
        """Page-locked copies (DataLoader's `pin_memory`), so the copy to a GPU can overlap the step."""
        pin = {k: v.pin_memory() if isinstance(v, torch.Tensor) else v for k, v in self.__dict__.items()}
        return Batch(**pin)


def step_rng(seed: int, step: int) -> random.Random:
    """The generator of training batch `step` when batches are made by loader workers: a function
    of (seed, step) alone, so any worker makes any batch and a resumed run makes the batch where it
    stopped, whatever the number of workers."""
    return random.Random(f"{seed}:{step}")


def load_texts(path: Path, min_chars: int = 200, language: str | None = None) -> list[str]:
    """Texts of a corpus split (`language`: only that language's files). A row with a `weight` N
    is listed N times (the same string), so uniform sampling over the list draws it N times as often."""
    with gzip.open(path, "rt") as fh:
        rows = (json.loads(line) for line in fh)
        return [r["text"] for r in rows
                if len(r["text"]) >= min_chars and (language is None or r.get("language") == language)
                for _ in range(int(r.get("weight", 1)))]


class Mixture:
    """Training files by language, drawn in set shares: a language by its share, then one of its
    files uniformly (per-file sampling over all files would give the language of many small files
    most of the draws)."""

    def __init__(self, groups: dict[str, list[str]], shares: dict[str, float]):
        empty = [lang for lang, share in shares.items() if share > 0 and not groups.get(lang)]
        if empty or not any(share > 0 for share in shares.values()):
            raise ValueError(f"no training files for {', '.join(empty) or 'any language'} (shares {shares})")
        self.names = [lang for lang, share in shares.items() if share > 0]
        self.shares = [shares[lang] for lang in self.names]
        self.groups = groups

    def draw(self, rng: random.Random) -> str:
        files = self.groups[rng.choices(self.names, weights=self.shares)[0]]
        return files[rng.randrange(len(files))]

    def __len__(self) -> int:
        return sum(len(self.groups[lang]) for lang in self.names)


def cut_holes(text: str, rng: random.Random) -> tuple[list[str], list[str]]:
    """Pick a window and holes. Returns (texts, middles) with len(texts) == len(middles) + 1."""
    lines = text.splitlines(keepends=True)
    n_holes = rng.choices([1, 2, 3], weights=[0.75, 0.17, 0.08])[0]
    # choose hole line indices, spread apart, then cut each by a random style
    candidates = [i for i, line in enumerate(lines) if line.strip()]
    if not candidates:
        return [text], []
    anchors = sorted(rng.sample(candidates, min(n_holes, len(candidates))))
    starts_ends: list[tuple[int, int]] = []
    offsets = np.cumsum([0] + [len(line) for line in lines])
    for a in anchors:
        line = lines[a]
        indent = len(line) - len(line.lstrip())
        style = rng.random()
        if style < 0.38:  # a whole line, indentation and newline included (HumanEval single-line)
            s, e = offsets[a], offsets[a + 1]
        elif style < 0.58:  # several whole lines
            k = rng.randint(2, 8)
            s, e = offsets[a], offsets[min(len(lines), a + k)]
        elif style < 0.80:  # from the cursor to the end of the line; a third start at column 0
            body = len(line.rstrip("\n"))  # (the cursor on an empty line: indentation is the model's)
            col = 0 if rng.random() < 0.33 else rng.randint(indent, max(indent, body - 1))
            s, e = offsets[a] + col, offsets[a] + body
        elif style < 0.95:  # an arbitrary span
            s = offsets[a] + rng.randint(0, max(0, len(line) - 1))
            e = min(len(text), s + int(rng.expovariate(1 / 40)) + 1)
        else:  # nothing is missing
            s = e = offsets[a] + rng.randint(indent, len(line.rstrip("\n")))
        if starts_ends and s < starts_ends[-1][1] + 2:
            continue
        starts_ends.append((int(s), int(e)))
    texts, middles, cur = [], [], 0
    for s, e in starts_ends:
        texts.append(text[cur:s])
        middles.append(text[s:e])
        cur = e
    texts.append(text[cur:])
    return texts, middles


class ExampleMaker:
    def __init__(self, cfg: ModelConfig, tokenizer, seq_len: int, prefix_tokens: int, suffix_tokens: int,
                 aux_weight: float = 0.5, aux_fraction: float = 1.0, fixed_len: bool = False, with_mask: bool = True,
                 canvas_copies: int = 1):
        self.cfg, self.tok, self.seq_len = cfg, tokenizer, seq_len
        # source text that spells a special token (`<|mask|>` in engine/train/tokenizer.py) is text:
        # encoded as the special id it would put a mask with no target in a canvas
        self.tok.encode_special_tokens = True
        # canvas_copies K > 1: a row holds its canvases K times, each copy masked at its own noise
        # level (t, t + 1/K, ... mod 1) and weighted 1/K, each copy seeing the context and its own
        # canvases only. The context costs the same once; the infill signal per row grows (the
        # objective's expectation is the same, its variance lower)
        self.canvas_copies = canvas_copies
        # fixed_len: every batch is seq_len wide (one shape for torch.compile); with_mask False: batches
        # carry `sid` and no mask (the trainer builds it on the device)
        self.fixed_len, self.with_mask = fixed_len, with_mask
        self.prefix_tokens, self.suffix_tokens, self.aux_weight = prefix_tokens, suffix_tokens, aux_weight
        # next-token targets on this fraction of stream positions: the output projection over the
        # vocabulary is paid only where there is a target, and on every stream token it costs
        # about as much as the rest of the network
        self.aux_fraction = aux_fraction

    def __setstate__(self, state: dict) -> None:
        # a Tokenizer pickles as its JSON, which leaves encode_special_tokens out: a loader worker
        # started by spawn or forkserver would read `<|mask|>` in a file as the mask again
        self.__dict__.update(state)
        self.tok.encode_special_tokens = True

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(texts)] if texts else []

    def _window(self, text: str, rng: random.Random) -> str:
        # ~3.3 chars per token: take a window a bit larger than the budget, starting on a line
        span = int(3.3 * (self.prefix_tokens + self.suffix_tokens + 64))
        if len(text) <= span:
            return text
        start = rng.randrange(0, len(text) - span)
        start = text.rfind("\n", 0, start) + 1
        return text[start:start + span]

    def bucket_for(self, m: int, rng: random.Random) -> int:
        buckets = self.cfg.buckets
        fit = next((b for b in buckets if b >= m + 1), buckets[-1])
        r = rng.random()
        if r < 0.12 and fit != buckets[0]:  # overflow: the hole must grow
            return rng.choice([b for b in buckets if b < fit])
        if r < 0.35 and fit != buckets[-1]:  # roomy: lots of end-of-middle padding
            return rng.choice([b for b in buckets if b > fit])
        return fit

    def diffusion_example(self, text: str, rng: random.Random, t: float):
        texts, middles = cut_holes(self._window(text, rng), rng)
        while True:
            enc = self.encode(texts + middles)
            streams, mids = enc[:len(texts)], enc[len(texts):]
            streams[0] = streams[0][-self.prefix_tokens:]
            streams[-1] = streams[-1][:self.suffix_tokens]
            buckets = [self.bucket_for(len(m), rng) for m in mids]
            # the row must fit seq_len with its canvases whole (collate cuts a row's end, where the
            # canvases are): a later hole goes back into the text while there are several, then
            # the context gives way, the prefix's far end first, then the suffix's
            excess = sum(map(len, streams)) + self.canvas_copies * sum(buckets) - self.seq_len
            if excess <= 0 or len(middles) <= 1:
                break
            texts, middles = texts[:-2] + [texts[-2] + middles[-1] + texts[-1]], middles[:-1]
        k = self.canvas_copies
        while k > 1 and k * sum(buckets) > self.seq_len // 2:  # copies never crowd out most of the context
            k -= 1
            excess = sum(map(len, streams)) + k * sum(buckets) - self.seq_len
        if excess > 0:
            cut = min(excess, len(streams[0]))
            streams[0] = streams[0][cut:]
            if excess > cut and len(streams) > 1:
                streams[-1] = streams[-1][:max(0, len(streams[-1]) - (excess - cut))]
        ids, tgt, wt, pos, kind, sid = [], [], [], [], [], []
        canvases = []  # (document offset, canvas tokens)
        doc = 0
        for si, s in enumerate(streams):
            # stream tokens: next-token targets inside the stream (aux LM loss)
            ids += s
            nxt = s[1:] + [-100] if s else []  # an empty stream (a hole at the window's start or end) has none
            if self.aux_fraction < 1.0:
                nxt = [t if rng.random() < self.aux_fraction else -100 for t in nxt]
            tgt += nxt
            wt += [self.aux_weight] * len(s)
            pos += range(doc, doc + len(s))
            kind += [0] * len(s)
            sid += [si] * len(s)
            doc += len(s)
            if si < len(mids):
                b = buckets[si]
                canvas = (mids[si] + [self.cfg.eom_id] * b)[:b]
                canvases.append((doc, canvas))
                doc += b
        for copy in range(k):
            tc = t if copy == 0 else max(0.02, (t + copy / k) % 1.0)
            group = -1 if copy == 0 else -2 - copy  # sid of this copy's canvases (-2 is padding)
            for off, canvas in canvases:
                masked = [rng.random() < tc for _ in canvas]
                if not any(masked):
                    masked[rng.randrange(len(canvas))] = True
                ids += [self.cfg.mask_id if m else c for m, c in zip(masked, canvas)]
                tgt += [c if m else -100 for m, c in zip(masked, canvas)]
                wt += [1.0 / (tc * k) if m else 0.0 for m in masked]
                pos += range(off, off + len(canvas))
                kind += [1] * len(canvas)
                sid += [group] * len(canvas)
        return ids, tgt, wt, pos, kind, sid

    def ar_example(self, text: str, rng: random.Random):
        texts, middles = cut_holes(self._window(text, rng), rng)
        if not middles:
            middles = [""]
        # PSM with one hole: the other holes' middles go back into the text
        pre, suf = texts[0], "".join(t + m for t, m in zip(texts[1:], middles[1:] + [""]))
        p, s, m = self.encode([pre, suf, middles[0]])
        seq = [self.cfg.pre_id] + p[-self.prefix_tokens:] + [self.cfg.suf_id] + s[:self.suffix_tokens] \
            + [self.cfg.mid_id] + m + [self.cfg.eos_id]
        n = len(seq)
        return seq, seq[1:] + [-100], [1.0] * n, list(range(n)), [0] * n, [0] * n

    def batch(self, texts: "list[str] | Mixture", rng: random.Random, batch_size: int) -> Batch:
        u = rng.random()
        rows = []
        for i in range(batch_size):
            text = texts.draw(rng) if isinstance(texts, Mixture) else texts[rng.randrange(len(texts))]
            if self.cfg.causal_ar:
                rows.append(self.ar_example(text, rng))
            else:  # stratified noise levels across the batch (lower-variance MDLM estimate)
                rows.append(self.diffusion_example(text, rng, max(0.02, (u + i / batch_size) % 1.0)))
        return collate(rows, self.seq_len, self.cfg.pad_id, fixed_len=self.fixed_len, with_mask=self.with_mask)


class StepBatches(torch.utils.data.Dataset):
    """Training batch k as `maker.batch(texts, step_rng(seed, k), batch_size)`: DataLoader workers
    make batches ahead of the step, each from its step's own generator."""

    def __init__(self, maker: ExampleMaker, texts: "list[str] | Mixture", seed: int, batch_size: int):
        self.maker, self.texts, self.seed, self.batch_size = maker, texts, seed, batch_size

    def __getitem__(self, step: int) -> Batch:
        return self.maker.batch(self.texts, step_rng(self.seed, step), self.batch_size)


def collate(rows, seq_len: int, pad_id: int, fixed_len: bool = False, with_mask: bool = True) -> Batch:
    b = len(rows)
    L = seq_len if fixed_len else min(seq_len, max(len(r[0]) for r in rows))
    ids = torch.full((b, L), pad_id, dtype=torch.long)
    tgt = torch.full((b, L), -100, dtype=torch.long)
    wt = torch.zeros(b, L)
    pos = torch.zeros(b, L, dtype=torch.long)
    kind = torch.zeros(b, L, dtype=torch.long)
    sid = torch.full((b, L), -2, dtype=torch.long)  # -2 pad, -1 canvas (<= -3 its copies), >= 0 stream index
    for i, r in enumerate(rows):
        n = min(L, len(r[0]))
        for tensor, vals in zip((ids, tgt, wt, pos, kind, sid), r):
            tensor[i, :n] = torch.tensor(vals[:n], dtype=tensor.dtype)
    return Batch(ids, tgt, wt, pos, kind, block_mask(sid) if with_mask else None, int((sid != -2).sum()), sid)


def block_mask(sid: torch.Tensor) -> torch.Tensor:
    """sid [B, L] (-2 pad, -1 canvas, <= -3 further copies of the canvases, >= 0 stream) -> [B, 1, L, L]
    bool, True where a query may attend: a stream token to its own stream's earlier tokens, a canvas
    token to every stream token and to the canvases of its own copy, every token to itself."""
    L = sid.shape[1]
    ar = torch.arange(L, device=sid.device)
    q, k = sid[:, :, None], sid[:, None, :]
    same_stream = (q == k) & (q >= 0) & (ar[None, None, :] <= ar[None, :, None])
    canvas_q = ((q == -1) | (q <= -3)) & ((k >= 0) | (k == q))
    return (same_stream | canvas_q | torch.eye(L, dtype=torch.bool, device=sid.device)[None])[:, None]
