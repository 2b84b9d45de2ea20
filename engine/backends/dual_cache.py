"""Fast-dLLM's approximate dual cache (Wu et al. 2025) for full-bidirectional masked LMs.

A full-bidirectional model's context keys/values depend on the canvas, so the exact step runs the
whole document. The dual cache runs the whole document only every few steps ("refresh"), keeps
every layer's keys/values, and in between runs just the canvas tokens: their fresh keys/values
replace the cached ones at their positions and they attend over the rest (prefix *and* suffix)
from the cache. The approximation is that context keys/values go stale while the canvas changes.

It works by registering a transformers attention function that wraps the model's own
(``sdpa``/``flash``/``eager``→``sdpa``), so it applies to any architecture whose attention goes
through transformers' ``AttentionInterface`` (BERT, ModernBERT, Gemma, Qwen, … built in). Remote
code (LLaDA, Dream) calls torch directly: `DualCache` detects that no layer went through the hook
and refuses with a message instead of silently running the exact path.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import torch

Mode = Literal["off", "record", "cached"]


class DualCacheUnsupported(RuntimeError):
    pass


class DualCache:
    def __init__(self, model: torch.nn.Module) -> None:
        from transformers import AttentionInterface
        from transformers.integrations.sdpa_attention import sdpa_attention_forward
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        base = getattr(model.config, "_attn_implementation", None) or "sdpa"
        # eager lives in each modeling file, not the registry; sdpa computes the same thing
        self._base: Callable = ALL_ATTENTION_FUNCTIONS.get(base) or sdpa_attention_forward
        mask_fn = ALL_MASK_ATTENTION_FUNCTIONS.get(base) or ALL_MASK_ATTENTION_FUNCTIONS["sdpa"]
        self.mode: Mode = "off"
        self._kv: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = {}
        self._qpos: torch.Tensor | None = None
        self.name = f"dg_dual_cache_{id(self):x}"  # one per model: the function closes over this cache
        AttentionInterface.register(self.name, self._attend)
        AttentionMaskInterface.register(self.name, mask_fn)
        try:
            model.set_attn_implementation(self.name)
        except Exception as exc:  # an architecture that pins its attention implementation
            raise DualCacheUnsupported(f"{type(model).__name__} does not accept a custom attention function: {exc}") from exc

    def _attend(self, module, query, key, value, attention_mask, **kwargs):
        if self.mode == "record":  # [B, H_kv, L, D] for the whole document
            self._kv[id(module)] = (key, value, attention_mask)
        elif self.mode == "cached":
            if id(module) not in self._kv:
                raise DualCacheUnsupported("a layer ran in a cached step without a recorded refresh")
            k0, v0, mask0 = self._kv[id(module)]
            qpos = self._qpos
            key = k0.index_copy(2, qpos, key.to(k0.dtype))  # fresh keys/values at the canvas positions
            value = v0.index_copy(2, qpos, value.to(v0.dtype))
            # the recorded mask (padding, sliding windows) restricted to the query rows keeps the
            # architecture's own pattern; None stays None (full bidirectional)
            attention_mask = mask0[:, :, qpos, :] if isinstance(mask0, torch.Tensor) and mask0.dim() == 4 else None
            kwargs["is_causal"] = False
        return self._base(module, query, key, value, attention_mask, **kwargs)

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Run the whole document and keep every layer's keys/values."""
        self._kv.clear()
        self.mode = "record"
        try:
            yield
        finally:
            self.mode = "off"

    @contextmanager
    def cached(self, qpos: torch.Tensor) -> Iterator[None]:
        """Run only the tokens at document positions `qpos` [Q] against the recorded keys/values."""
        self.mode, self._qpos = "cached", qpos
        try:
            yield
        finally:
            self.mode, self._qpos = "off", None

    @property
    def recorded_layers(self) -> int:
        return len(self._kv)

    def check(self, model: torch.nn.Module, forward: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
              probe: torch.Tensor) -> None:
        """Refuse architectures the hook cannot serve: attention outside transformers' interface,
        or causal attention (a cached step would let the canvas see keys it must not)."""
        with self.recording():
            full = forward(probe, None)
        if not self.recorded_layers:
            raise DualCacheUnsupported(
                f"{type(model).__name__} computes attention in its own code, not through transformers' attention "
                "interface, so its keys/values cannot be cached from outside; use dual_cache=False for this model")
        causal = [m for m in model.modules() if id(m) in self._kv and getattr(m, "is_causal", False)]
        if causal:
            raise DualCacheUnsupported(f"{type(model).__name__} has causal attention layers; the dual cache needs a "
                                       "full-bidirectional model")
        pos = torch.arange(probe.shape[1], device=probe.device)
        with self.cached(pos):  # every position fresh: must reproduce the exact forward
            again = forward(probe, pos[None].expand(probe.shape[0], -1))
        if not torch.allclose(full.float(), again.float(), atol=1e-3, rtol=1e-3):
            raise DualCacheUnsupported(f"the dual-cache hook does not reproduce {type(model).__name__}'s own forward pass")
