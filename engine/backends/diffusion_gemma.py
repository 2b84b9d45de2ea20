"""transformers' DiffusionGemma (`DiffusionGemmaForBlockDiffusion`) as a backend.

DiffusionGemma is a block-diffusion model: a causal encoder writes the prompt into a KV cache, and
a bidirectional decoder denoises a block ("canvas", `config.canvas_length` tokens) that attends to
that cache and to itself. Noise is uniform random tokens, not a mask; the decoder also takes the
previous step's logits as a soft-embedding self-conditioning signal; its own sampler accepts the
lowest-entropy tokens under an entropy bound (Ben-Hamu et al. 2025) and renoises the rest.

Infilling maps onto that as follows:
* prepare: BOS + the text before the first hole go through the encoder into its KV cache, once
  per request; a request with the same `cache_key` whose prefix extends (or, within the sliding
  window, shares) the previous one only encodes the new tokens.
* step: the block is hole 0, text 1, hole 1, …, the suffix — holes carry the loop's canvas
  (uniform noise where open), text is pinned clean, exactly like tokens DiffusionGemma's own
  sampler has already accepted. The suffix is cut so the block stays within `canvas_length`.
* self-conditioning: the previous step's logits for the whole block, temperature-scaled the way
  `generate` scales them (a linear schedule from `t_max` to `t_min` over `max_denoising_steps`),
  are kept in the context handle and fed back. The same scaled logits are what `step` returns,
  so the engine's entropy rule sees the distribution DiffusionGemma's sampler sees.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.api import InfillError
from engine.backends.base import BackendInfo, pick_dtype
from engine.backends.hf_masked import HFTokenizerBackend, HFTokens, read_config
from engine.cache import LRU
from engine.canvas import Layout


@dataclass
class _Encoded:
    ids: list[int]  # what the encoder has seen (BOS + prefix)
    cache: Any  # transformers DynamicCache, batch 1


class _ReadOnlyCache:
    """The encoder cache broadcast to B rows without copying: the decoder only reads `layers[i]`'s
    keys/values and concatenates its block after them (it never writes)."""

    is_compileable = False

    def __init__(self, cache, batch: int):
        self.layers = [_Layer(layer.keys.expand(batch, -1, -1, -1), layer.values.expand(batch, -1, -1, -1))
                       for layer in cache.layers]
        self._seen = cache.get_seq_length()

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self._seen


@dataclass
class _Layer:
    keys: torch.Tensor  # [B, H_kv, L, D]
    values: torch.Tensor


@dataclass
class _Ctx:
    enc: _Encoded
    views: dict[int, _ReadOnlyCache] = field(default_factory=dict)  # batch -> broadcast cache
    plan_key: tuple | None = None
    block: torch.Tensor | None = None  # [Lb] block ids, holes arbitrary
    holes: torch.Tensor | None = None  # [C] block index of each canvas token
    positions: torch.Tensor | None = None  # [1, Lb]
    self_cond: torch.Tensor | None = None  # [B, Lb, V] previous step's scaled logits
    steps: int = 0


class DiffusionGemmaBackend(HFTokenizerBackend):
    noise = "uniform"
    default_rule = "entropy"
    sampler_defaults = {"entropy_bound": 0.1}  # the bound transformers' DiffusionGemma sampler uses

    def __init__(self, path: str, device: torch.device, trust_remote_code: bool = False, *,
                 allow_download: bool = False, dtype: str | None = None, max_block: int | None = None,
                 temperature_schedule: bool = True, cache_size: int = 4, max_context: int | None = None,
                 buckets: list[int] | None = None, **unknown: Any):
        if unknown:
            raise InfillError(f"unknown option(s) for a DiffusionGemma model: {', '.join(sorted(unknown))}")
        conf = read_config(path, trust_remote_code, allow_download)
        if conf.get("model_type") != "diffusion_gemma":
            raise InfillError(f"{path} is a {conf.get('model_type')!r} model, not diffusion_gemma")
        from transformers import DiffusionGemmaForBlockDiffusion

        local_only = not allow_download
        try:
            self.model = DiffusionGemmaForBlockDiffusion.from_pretrained(
                path, dtype=pick_dtype(device, dtype), local_files_only=local_only,
                trust_remote_code=trust_remote_code).to(device).eval()
        except Exception as exc:
            raise InfillError(f"cannot load the DiffusionGemma model in {path!r}: {exc}") from exc
        self.device = device
        cfg, tc = self.model.config, self.model.config.text_config
        self.vocab_size = int(tc.vocab_size)
        self.tokens = HFTokens(path, self.vocab_size, trust_remote_code, local_only)
        gen = self.model.generation_config
        self.eom_ids = self.tokens.end_ids(tc.eos_token_id, tc.pad_token_id, getattr(gen, "eos_token_id", None),
                                           getattr(gen, "pad_token_id", None))
        if not self.eom_ids:
            raise InfillError(f"{path}: no eos/pad token id in the config or tokenizer")
        self.bos_id = tc.bos_token_id if tc.bos_token_id is not None else self.tokens.tok.bos_token_id
        self.pad_id = tc.pad_token_id if tc.pad_token_id is not None else min(self.eom_ids)
        # uniform noise needs no mask token; the loop still bans one id, so pick one no fill wants
        mask = self.tokens.tok.mask_token_id
        self.mask_id = int(mask if mask is not None else self.bos_id if self.bos_id is not None else self.pad_id)
        self.eom_ids = self.eom_ids - {self.mask_id}
        self.canvas_length = int(cfg.canvas_length or 256)
        self.max_block = int(max_block or self.canvas_length)
        self.buckets = sorted(b for b in (buckets or self.buckets) if b <= self.max_block) or [self.max_block]
        # generate()'s defaults when the checkpoint's generation_config leaves them unset
        self.t_min = float(getattr(gen, "t_min", None) or 0.4)
        self.t_max = float(getattr(gen, "t_max", None) or 0.8)
        self.schedule_steps = int(getattr(gen, "max_denoising_steps", None) or 48)
        self.temperature_schedule = temperature_schedule
        self.cache: LRU[_Encoded] = LRU(cache_size)
        ctx_cap = max_context or min(int(tc.max_position_embeddings) - self.max_block, 8192)
        dt = str(next(self.model.parameters()).dtype).removeprefix("torch.")
        self.info = BackendInfo("diffusion-gemma", path, str(device), dt, ctx_cap,
                                {"canvas_length": self.canvas_length, "max_block": self.max_block,
                                 "parameters": sum(p.numel() for p in self.model.parameters())})

    # ---- context ----------------------------------------------------------------------------------
    def prepare(self, layout: Layout, cache_key: str | None) -> _Ctx:
        ids = ([self.bos_id] if self.bos_id is not None else []) + list(layout.streams[0])
        ids = ids or [self.pad_id]  # the decoder needs at least one cached position
        enc, reused = self._reuse(self.cache.get(cache_key), ids)
        new = ids[reused:]
        if new:
            pos = torch.arange(reused, len(ids), device=self.device)[None]
            self.model.model.encoder(input_ids=torch.tensor([new], device=self.device), past_key_values=enc.cache,
                                     position_ids=pos, use_cache=True)
        enc.ids = ids
        self.cache.put(cache_key, enc)
        layout.cached_tokens = max(0, reused - (1 if self.bos_id is not None else 0))
        return _Ctx(enc)

    def _reuse(self, old: _Encoded | None, ids: list[int]) -> tuple[_Encoded, int]:
        """The previous request's encoder cache, cropped to the shared prefix, and how many ids it covers.
        Cropping is refused once a sliding-window layer has dropped keys: then encode afresh."""
        from transformers import DynamicCache

        if old is not None:
            common = 0
            for a, b in zip(old.ids, ids):
                if a != b:
                    break
                common += 1
            if common > 0:
                try:
                    if common < len(old.ids):
                        old.cache.crop(common - len(old.ids))  # a negative count: tokens to drop
                    return old, common
                except (RuntimeError, ValueError):
                    pass
        return _Encoded([], DynamicCache(config=self.model.config.get_text_config(decoder=True))), 0

    # ---- steps ------------------------------------------------------------------------------------
    def _plan(self, ctx: _Ctx, layout: Layout) -> None:
        key = (tuple(layout.stream_offsets), tuple(layout.hole_sizes))
        if ctx.plan_key == key:
            return
        block: list[int] = []
        holes: list[int] = []
        for i, size in enumerate(layout.hole_sizes):
            holes += range(len(block), len(block) + size)
            block += [self.pad_id] * size
            text = layout.streams[i + 1]
            if i + 1 == len(layout.hole_sizes):  # the suffix: as much as the block has room for
                text = text[:max(0, self.max_block - len(block))]
            block += text
        dev = self.device
        ctx.plan_key = key
        ctx.block = torch.tensor(block, device=dev)
        ctx.holes = torch.tensor(holes, device=dev)
        start = len(ctx.enc.ids)
        ctx.positions = torch.arange(start, start + len(block), device=dev)[None]
        ctx.self_cond = None  # positions moved (a hole grew): the old signal no longer lines up

    def _temperature(self, step: int) -> float:
        """generate()'s linear schedule: t_max at the first step down to t_min at the last."""
        remaining = max(self.schedule_steps - step, 0)
        return self.t_min + (self.t_max - self.t_min) * remaining / self.schedule_steps

    def step(self, ctx: _Ctx, canvas: torch.Tensor, layout: Layout, positions: torch.Tensor | None = None) -> torch.Tensor:
        self._plan(ctx, layout)
        B = canvas.shape[0]
        x = ctx.block.expand(B, -1).clone()  # [B, Lb]
        x[:, ctx.holes] = canvas
        if B not in ctx.views:
            ctx.views[B] = _ReadOnlyCache(ctx.enc.cache, B)
        sc = ctx.self_cond if ctx.self_cond is not None and ctx.self_cond.shape[0] == B else None
        out = self.model(decoder_input_ids=x, past_key_values=ctx.views[B], self_conditioning_logits=sc,
                         decoder_position_ids=ctx.positions.expand(B, -1)).logits  # [B, Lb, V] float32
        if self.temperature_schedule:
            out = out / self._temperature(ctx.steps)
        ctx.steps += 1
        ctx.self_cond = out.to(self.model.model.decoder.embed_tokens.weight.dtype)  # every position's
        return out[:, ctx.holes] if positions is None else out[:, ctx.holes[positions]]
