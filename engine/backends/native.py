"""The embedded model as a backend: exact stream caches, canvas-only steps."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from engine.api import InfillError
from engine.backends.base import Backend, BackendInfo, compile_mode, pick_dtype
from engine.cache import LRU, match_streams
from engine.canvas import Layout
from engine.model import DiffusionCoder, ModelConfig, StreamCache, load_model

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
TINY = ModelConfig(d_model=64, n_layers=2, n_heads=2, ffn_hidden=128, max_context=2048)


def load_tokenizer(folder: Path):
    from tokenizers import Tokenizer

    path = Path(folder) / "tokenizer.json"
    if not path.exists():
        raise FileNotFoundError(f"no tokenizer.json in {folder}")
    tok = Tokenizer.from_file(str(path))
    # a document that spells a special token (`<|mask|>` in code about models) is text: encoded as
    # the special id it would put a mask or separator in the context
    tok.encode_special_tokens = True
    return tok


class NativeBackend(Backend):
    # Our own models are unsure of most positions (few pass the threshold), and where they are
    # unsure, writing left to right beats committing the most confident position, which is often
    # padding at the canvas's tail (BENCHMARKS.md, "Session 6": pass@1 with each fallback).
    # An end-of-middle joins an end run only when the model is fairly sure of it (`end_run_conf`): at
    # a position far from the content the end is the most likely token without being likely (p 0.1-0.5),
    # and committing those ends cut lines short (`    if len(`). The syntax guard may reopen a fill
    # that breaks the file where it is eight times, each time at its first word (BENCHMARKS.md,
    # "Session 7", "Session 8" and "Session 10": with the session 10 guard, eight restarts parse
    # 0.975 of 200 single-line fills against 0.965 for four, and 0.860 of 200 multi-line ones
    # against 0.815; sixteen no better; pass@1 and the median passes unchanged).
    sampler_defaults = {"fallback": "leftmost", "end_run_conf": 0.7, "syntax_retries": 8, "syntax_lines": 6}
    pad_streams = True  # context encoded at a few padded widths (engine/model.py, `encode_stream`)

    def __init__(self, model: DiffusionCoder, tokenizer, name: str, source: str, device: torch.device,
                 cache_size: int = 8, compile: bool | str | None = None):
        self.model = model
        self.tok = tokenizer
        self.device = device
        cfg = model.cfg
        self.mask_id, self.vocab_size = cfg.mask_id, cfg.vocab_size
        self.eom_ids = frozenset({cfg.eom_id, cfg.pad_id, cfg.eos_id})
        self.fill_id = cfg.eom_id  # engine/train/data.py pads a canvas with end-of-middle
        self.buckets = list(cfg.buckets)
        self.cache: LRU[list[StreamCache | None]] = LRU(cache_size)
        self._texts: list[str] | None = None
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        self.info = BackendInfo(name, source, str(device), dtype, cfg.max_context,
                                {"parameters": sum(p.numel() for p in model.parameters())})
        self._canvas_logits = model.canvas_logits
        mode = compile_mode(compile)
        if mode is not None:
            self._compile(mode)
        elif model.pack():  # CPU: weights in oneDNN's packed layout (engine/model.py, `pack`)
            self.info.extra["packed"] = True

    def _compile(self, mode: str) -> None:
        """torch.compile the denoising step. Shapes are dynamic (context length changes with every
        request, canvas width with the bucket), so one graph serves them all; a batch of one and a
        batch of several, and each number of context streams, compile apart. The one-hole cases are
        compiled here, at load, so the first request does not pay for it."""
        self._canvas_logits = torch.compile(self.model.canvas_logits, dynamic=True,
                                            mode=None if mode == "default" else mode)
        self.info.extra["compile"] = mode
        tok = 0 if self.mask_id else 1
        with torch.inference_mode():  # two widths and two batch sizes: dynamo then keeps them symbolic
            for width in self.buckets[:2]:
                layout = Layout([[tok] * 17, [tok] * 5], [width])
                ctx = self.prepare(layout, None)
                for batch in (1, 3):
                    self.step(ctx, torch.full((batch, width), self.mask_id, device=self.device), layout)

    @classmethod
    def from_folder(cls, folder: Path, device: torch.device, name: str = "embedded",
                    dtype: str | None = None, compile: bool | str | None = None) -> "NativeBackend":
        folder = Path(folder)
        if not (folder / "model.safetensors").exists():
            raise FileNotFoundError(
                f"embedded model weights not found at {folder / 'model.safetensors'}; reinstall dg-lsp "
                "or train them with `python -m engine.train.train` (see engine/weights/MODEL_CARD.md)")
        torch_dtype = pick_dtype(device, dtype, cpu_bf16=True)
        try:
            model = load_model(folder, device=str(device), dtype=torch_dtype)
        except Exception as exc:  # corrupt or mismatched weights: say which file
            raise InfillError(f"cannot load the model in {folder}: {exc}") from exc
        return cls(model, load_tokenizer(folder), name, str(folder), device, compile=compile)

    @classmethod
    def tiny_random(cls, device: torch.device, seed: int = 0, dtype: str | None = None,
                    compile: bool | str | None = None) -> "NativeBackend":
        """A tiny randomly initialised model with the shipped tokenizer: real code paths, no weights.
        float32 unless a dtype is asked for (its near-uniform logits make exactness checks brittle)."""
        tok = load_tokenizer(WEIGHTS)
        cfg = ModelConfig(**{**TINY.to_dict(), "vocab_size": tok.get_vocab_size()})
        torch.manual_seed(seed)
        torch_dtype = pick_dtype(device, dtype, cpu_bf16=True) if dtype else torch.float32
        model = DiffusionCoder(cfg).to(device=device, dtype=torch_dtype).eval()
        return cls(model, tok, "random:tiny", "random:tiny", device, compile=compile)

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text).ids if text else []

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=False)

    def token_texts(self) -> list[str]:
        if self._texts is None:
            specials = {self.tok.token_to_id(t) for t in self.tok.get_vocab() if t.startswith("<|")}
            self._texts = ["" if i in specials else self.tok.decode([i]) for i in range(self.vocab_size)]
        return self._texts

    def prepare(self, layout: Layout, cache_key: str | None) -> "NativeContext":
        old = self.cache.get(cache_key)
        paired = match_streams(old, layout.streams, lambda c: c.ids if c is not None else [])
        caches: list[StreamCache | None] = []
        reused = 0
        for ids, past in zip(layout.streams, paired):
            if not ids:
                caches.append(None)
                continue
            cache, fresh = self.model.encode_stream(ids, past, hidden=False, pad=self.pad_streams)
            reused += len(ids) - fresh.shape[1]  # hidden states come back only for re-encoded tokens
            caches.append(cache)
        layout.cached_tokens = reused
        self.cache.put(cache_key, caches)
        streams = [(c, off) for c, off in zip(caches, layout.stream_offsets) if c is not None]
        return NativeContext(streams, self.model.context_kv(streams))

    def step(self, ctx: "NativeContext", canvas: torch.Tensor, layout: Layout,
             positions: torch.Tensor | None = None) -> torch.Tensor:
        key = (canvas.shape[0], *layout.hole_sizes)  # with the request's streams, this fixes every position
        if ctx.rope_key != key:  # first step, or a hole grew: new tables and attention buffers
            pos = layout.canvas_positions(self.device)
            ctx.rope_key, ctx.rope = key, (pos, self.model.canvas_rope(pos))
            ctx.buffers = self.model.kv_buffers(ctx.kv, canvas.shape[0], canvas.shape[1])
        pos, rope = ctx.rope
        if "compile" in self.info.extra:  # one graph for every step (a row count would be a new shape)
            logits = self._canvas_logits(canvas, pos, ctx.streams, rope, ctx.buffers)
            return logits if positions is None else logits[:, positions]
        return self.model.canvas_logits(canvas, pos, ctx.streams, rope, ctx.buffers, positions)


@dataclass
class NativeContext:
    """One request's encoded context: stream caches with their document offsets, their keys (at
    document positions) and values merged per layer, and, for the current batch and canvas layout,
    the RoPE tables and the attention buffers (the context's keys and values with room for the
    canvas's behind them)."""

    streams: list[tuple[StreamCache, int]]
    kv: tuple[list[torch.Tensor], list[torch.Tensor]]
    rope_key: tuple | None = None
    rope: tuple | None = None
    buffers: tuple | None = None

