"""transformers masked-diffusion LMs: LLaDA (same-position logits), Dream / Dream-Coder /
DiffuCoder (shifted logits: the output at position i predicts token i+1), and any built-in
bidirectional masked LM (BERT, ModernBERT…).

These models are full-bidirectional: context keys/values depend on the canvas, so the exact step
runs the whole document (`Layout.document`). `dual_cache=True` trades exactness for speed with
Fast-dLLM's approximate dual cache (see `engine.backends.dual_cache`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from engine.api import InfillError
from engine.backends.base import Backend, BackendInfo, pick_dtype
from engine.canvas import Layout

# Tokens that end a fill in the tokenizers these families ship (whichever of them exist).
END_TOKENS = ("<|endoftext|>", "<|eot_id|>", "<|im_end|>", "<|fim_pad|>", "<|end_of_middle|>", "<|eom|>",
              "<EOT>", "<eos>", "<end_of_turn>", "<|eos|>", "<|pad|>", "<pad>", "</s>")


@dataclass(frozen=True)
class Preset:
    """What a model family needs that its config.json does not always say."""
    family: str
    logit_shift: bool = False  # logits at i predict token i+1 (Dream-style, from an AR initialisation)
    mask_id: int | None = None  # None: config's mask_token_id, then the tokenizer's mask token
    default_rule: str = "threshold"
    max_context: int = 4096  # cap on what the model was trained to see, whatever its rope allows


PRESETS = {
    # LLaDA-8B: <|mdm_mask|> = 126336; trained on 4096-token sequences (Nie et al. 2025)
    "llada": Preset("llada", mask_id=126336),
    # Dream-7B, Dream-Coder-7B, DiffuCoder-7B (Qwen2.5 tokenizer): <|mask|> = 151666; 2048-token training
    "dream": Preset("dream", logit_shift=True, mask_id=151666, max_context=2048),
    "masked-lm": Preset("masked-lm"),
}


def detect_family(conf: dict) -> str:
    kind = str(conf.get("model_type", "")).lower()
    archs = " ".join(conf.get("architectures") or []).lower()
    if kind.startswith("llada") or "llada" in archs:
        return "llada"
    if kind.startswith("dream") or "dream" in archs:  # DiffuCoder and Dream-Coder ship model_type "Dream"
        return "dream"
    return "masked-lm"


def shift_logits(logits: torch.Tensor) -> torch.Tensor:
    """[B, L, V] next-token logits -> same-position logits: position i takes the output at i-1;
    position 0 has no predecessor and keeps its own (Dream's convention)."""
    return torch.cat([logits[:, :1], logits[:, :-1]], dim=1)


# ---- shared with the DiffusionGemma backend -------------------------------------------------------
def read_config(spec: str, trust_remote_code: bool, allow_download: bool) -> dict:
    """config.json of a folder or a hub id; a hub id must be in the local HF cache unless
    `allow_download`."""
    path = Path(os.path.expanduser(spec))
    if path.is_dir():
        file = path / "config.json"
    else:
        from huggingface_hub import hf_hub_download

        try:
            file = Path(hf_hub_download(spec, "config.json", local_files_only=not allow_download))
        except Exception as exc:
            hint = "" if allow_download else (" (only the local Hugging Face cache is searched: download it first with "
                                              f"`huggingface-cli download {spec}` or pass allow_download=True)")
            raise InfillError(f"cannot find model {spec!r}{hint}: {exc}") from exc
    conf = json.loads(file.read_text())
    needs_code = "auto_map" in conf and not _builtin(conf.get("model_type"))
    if needs_code and not trust_remote_code:
        raise InfillError(
            f"model {spec!r} (model_type {conf.get('model_type')!r}) ships its own modeling code; loading it runs that "
            "code, so it needs an explicit opt-in: `dg-lsp serve --trust-remote-code` or "
            "load_engine(..., trust_remote_code=True)")
    return conf


def _builtin(model_type: str | None) -> bool:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return bool(model_type) and model_type in CONFIG_MAPPING_NAMES


class HFTokens:
    """The model's own tokenizer behind the engine's encode/decode/token_texts."""

    def __init__(self, spec: str, vocab_size: int, trust_remote_code: bool, local_only: bool):
        from transformers import AutoTokenizer

        try:
            self.tok = AutoTokenizer.from_pretrained(spec, trust_remote_code=trust_remote_code, local_files_only=local_only)
        except Exception as exc:
            raise InfillError(f"cannot load the tokenizer of {spec!r}: {exc}") from exc
        self.vocab_size = vocab_size  # the logits' width; may exceed the tokenizer (padded embeddings)
        self._texts: list[str] | None = None

    def encode(self, text: str) -> list[int]:
        # text that spells a special token (`<mask>` in code about models) stays text, as in
        # engine/backends/native.py's load_tokenizer
        return self.tok.encode(text, add_special_tokens=False, split_special_tokens=True) if text else []

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode([i for i in ids if i < len(self.tok)], skip_special_tokens=False,
                               clean_up_tokenization_spaces=False)

    def token_texts(self) -> list[str]:
        if self._texts is None:
            special = set(self.tok.all_special_ids)
            n = len(self.tok)
            self._texts = ["" if i in special or i >= n else self.decode([i]) for i in range(self.vocab_size)]
        return self._texts

    def token_id(self, text: str) -> int | None:
        i = self.tok.convert_tokens_to_ids(text)
        return i if isinstance(i, int) and i != self.tok.unk_token_id and i < self.vocab_size else None

    def end_ids(self, *extra: int | list[int] | None) -> frozenset[int]:
        """eos / pad / end-of-text / end-of-middle: every one the tokenizer and config know."""
        ids: set[int] = set()
        for x in (self.tok.eos_token_id, self.tok.pad_token_id, *extra):
            ids.update(x if isinstance(x, list) else [x] if isinstance(x, int) else [])
        ids.update(i for t in END_TOKENS if (i := self.token_id(t)) is not None)
        return frozenset(i for i in ids if 0 <= i < self.vocab_size)


# ---- the backend ---------------------------------------------------------------------------------
@dataclass
class _Plan:
    """Where the canvas goes in the document for one layout (fixed until a hole grows)."""
    key: tuple
    doc: torch.Tensor  # [L] document ids, canvas positions arbitrary
    cpos: torch.Tensor  # [C] document position of each canvas token
    gather: torch.Tensor  # [C] output row whose logits predict each canvas token (exact path)
    qpos: torch.Tensor  # [Q] positions a cached step runs: the canvas, plus predecessors when shifted
    qgather: torch.Tensor  # [C] row of the cached step's output for each canvas token


@dataclass
class _Ctx:
    plans: dict[tuple, _Plan] = field(default_factory=dict)
    since_refresh: int | None = None  # cached steps since the dual cache was refreshed; None: never
    refreshed_for: tuple | None = None  # (plan key, batch) the recorded keys/values belong to


class HFTokenizerBackend(Backend):
    """A backend whose tokenizer is a transformers one wrapped in `HFTokens` (`self.tokens`)."""

    tokens: "HFTokens"

    def encode(self, text: str) -> list[int]:
        return self.tokens.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.tokens.decode(ids)

    def token_texts(self) -> list[str]:
        return self.tokens.token_texts()


class HFMaskedBackend(HFTokenizerBackend):
    def __init__(self, path: str, device: torch.device, trust_remote_code: bool = False, *,
                 allow_download: bool = False, family: str | None = None, logit_shift: bool | None = None,
                 mask_id: int | None = None, eom_ids: list[int] | None = None, default_rule: str | None = None,
                 dual_cache: bool = False, cache_refresh: int = 8, max_context: int | None = None,
                 dtype: str | None = None, buckets: list[int] | None = None, **unknown: Any):
        if unknown:
            raise InfillError(f"unknown option(s) for a masked-diffusion model: {', '.join(sorted(unknown))}")
        conf = read_config(path, trust_remote_code, allow_download)
        family = family or detect_family(conf)
        if family not in PRESETS:
            raise InfillError(f"unknown model family {family!r}: one of {', '.join(PRESETS)}")
        preset = PRESETS[family]
        if logit_shift is not None:
            preset = replace(preset, logit_shift=logit_shift)
        self.preset, self.device = preset, device
        self.model = self._load(path, conf, trust_remote_code, not allow_download, pick_dtype(device, dtype)).to(device)
        cfg = self.model.config
        self.vocab_size = self._logit_width(self.model, cfg)
        self.tokens = HFTokens(path, self.vocab_size, trust_remote_code, not allow_download)
        mask = next((m for m in (mask_id, conf.get("mask_token_id"), preset.mask_id, self.tokens.tok.mask_token_id)
                     if m is not None), None)
        if mask is None or not 0 <= int(mask) < self.vocab_size:
            raise InfillError(f"{path}: no mask token id (config, family preset or tokenizer); pass mask_id=…")
        self.mask_id = int(mask)
        self.eom_ids = frozenset(eom_ids) if eom_ids else self.tokens.end_ids(conf.get("eos_token_id"),
                                                                              conf.get("pad_token_id"))
        self.eom_ids = self.eom_ids - {self.mask_id}
        if not self.eom_ids:
            raise InfillError(f"{path}: no end-of-text/pad token to end a fill with; pass eom_ids=[…]")
        self.default_rule = default_rule or preset.default_rule
        if buckets:
            self.buckets = sorted(buckets)
        # document = context + canvas must fit the position table; context gets what holes leave
        self.max_positions = int(next((conf[k] for k in ("max_sequence_length", "max_position_embeddings", "n_positions")
                                       if isinstance(conf.get(k), int)), preset.max_context))
        ctx_cap = max_context or min(self.max_positions, preset.max_context)
        self.refresh_every = max(1, int(cache_refresh))
        self.dual = None
        if dual_cache:
            self.dual = self._dual_cache()
        dt = str(next(self.model.parameters()).dtype).removeprefix("torch.")
        self.info = BackendInfo(preset.family, path, str(device), dt, max(16, ctx_cap - 2 * self.buckets[-1]),
                                {"logit_shift": preset.logit_shift, "mask_id": self.mask_id,
                                 "dual_cache": self.dual is not None,
                                 "cache_refresh": self.refresh_every if self.dual is not None else None,
                                 "parameters": sum(p.numel() for p in self.model.parameters())})

    @staticmethod
    def _load(path: str, conf: dict, trust_remote_code: bool, local_only: bool, dtype: torch.dtype):
        import transformers
        from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM

        kw = dict(trust_remote_code=trust_remote_code, local_files_only=local_only, dtype=dtype)
        arch = (conf.get("architectures") or [None])[0]
        auto_map = conf.get("auto_map") or {}
        try:
            if auto_map and trust_remote_code:  # the folder's own classes, as its auto_map names them
                auto = (AutoModelForMaskedLM if "AutoModelForMaskedLM" in auto_map
                        else AutoModel if "AutoModel" in auto_map  # LLaDA, Dream: the LM head is in AutoModel
                        else AutoModelForCausalLM)
                model = auto.from_pretrained(path, **kw)
            elif arch and hasattr(transformers, arch):  # a built-in head, named by the config
                model = getattr(transformers, arch).from_pretrained(path, **kw)
            else:
                model = AutoModelForMaskedLM.from_pretrained(path, **kw)
        except InfillError:
            raise
        except Exception as exc:
            raise InfillError(f"cannot load the model in {path!r}: {exc}") from exc
        return model.eval()

    @staticmethod
    def _logit_width(model, cfg) -> int:
        """Rows of the LM head (embeddings are often padded past the tokenizer), else the config's vocab."""
        try:
            head = model.get_output_embeddings()
        except (AttributeError, NotImplementedError):  # remote code that does not implement it
            head = None
        weight = getattr(head, "weight", None)
        return int(weight.shape[0]) if isinstance(weight, torch.Tensor) else int(cfg.vocab_size)

    def _dual_cache(self):
        from engine.backends.dual_cache import DualCache, DualCacheUnsupported

        try:
            dual = DualCache(self.model)
            probe = torch.tensor([self.tokens.encode("def f(x):\n    return x\n")[:12] or [self.mask_id]],
                                 device=self.device)
            probe = torch.cat([probe, torch.full((1, 4), self.mask_id, device=self.device)], 1)
            with torch.inference_mode():
                dual.check(self.model, self._forward, probe)
        except Exception as exc:  # DualCacheUnsupported, or the base attention refusing (softcap under sdpa…)
            why = exc if isinstance(exc, DualCacheUnsupported) else f"its probe forward failed ({exc})"
            raise InfillError(f"dual_cache=True is not available for {self.preset.family} model "
                              f"{type(self.model).__name__}: {why}") from exc
        return dual

    # ---- context and steps ------------------------------------------------------------------------
    def prepare(self, layout: Layout, cache_key: str | None) -> _Ctx:
        # nothing to reuse across requests: every context key/value depends on the canvas
        layout.cached_tokens = 0
        ctx = _Ctx()
        self._plan(ctx, layout)
        return ctx

    def _plan(self, ctx: _Ctx, layout: Layout) -> _Plan:
        key = (tuple(layout.stream_offsets), tuple(layout.hole_sizes))
        if key in ctx.plans:
            return ctx.plans[key]
        C = layout.canvas_len
        doc = layout.document([self.mask_id] * C)
        if len(doc) > self.max_positions:
            raise InfillError(f"document of {len(doc)} tokens exceeds the model's {self.max_positions} positions")
        dev = self.device
        cpos = layout.canvas_positions(dev)
        if self.preset.logit_shift:
            gather = (cpos - 1).clamp(min=0)
            qpos = torch.unique(torch.cat([gather, cpos]))  # sorted; each hole's predecessor joins the query
        else:
            gather, qpos = cpos, cpos
        qgather = torch.searchsorted(qpos, gather)
        plan = _Plan(key, torch.tensor(doc, device=dev), cpos, gather, qpos, qgather)
        ctx.plans[key] = plan
        return plan

    def _forward(self, ids: torch.Tensor, position_ids: torch.Tensor | None) -> torch.Tensor:
        kw = {"position_ids": position_ids} if position_ids is not None else {}
        out = self.model(input_ids=ids, **kw)
        logits = out.logits if hasattr(out, "logits") else out[0]  # [B, L, V]
        return shift_logits(logits) if self.preset.logit_shift else logits

    def step(self, ctx: _Ctx, canvas: torch.Tensor, layout: Layout, positions: torch.Tensor | None = None) -> torch.Tensor:
        logits = self._step(ctx, canvas, layout)
        return logits if positions is None else logits[:, positions]

    def _step(self, ctx: _Ctx, canvas: torch.Tensor, layout: Layout) -> torch.Tensor:
        plan = self._plan(ctx, layout)
        B = canvas.shape[0]
        x = plan.doc.expand(B, -1).clone()  # [B, L]
        x[:, plan.cpos] = canvas
        if self.dual is None:
            return self._forward(x, None)[:, plan.cpos]
        if ctx.refreshed_for != (plan.key, B) or ctx.since_refresh is None or ctx.since_refresh >= self.refresh_every:
            with self.dual.recording():
                logits = self._forward(x, None)
            ctx.refreshed_for, ctx.since_refresh = (plan.key, B), 0
            return logits[:, plan.cpos]
        ctx.since_refresh += 1
        q = x[:, plan.qpos]  # [B, Q]: the canvas (and, when shifted, each hole's predecessor)
        with self.dual.cached(plan.qpos):
            logits = self.model(input_ids=q, position_ids=plan.qpos[None].expand(B, -1))
        logits = logits.logits if hasattr(logits, "logits") else logits[0]  # [B, Q, V], unshifted
        return logits[:, plan.qgather]


def load_hub_backend(spec: str, device: torch.device, trust_remote_code: bool = False, **options) -> Backend:
    """A hub id (org/name): DiffusionGemma or a masked-diffusion LM, from the local HF cache unless
    `allow_download=True`."""
    conf = read_config(spec, trust_remote_code, bool(options.get("allow_download", False)))
    if conf.get("model_type") == "diffusion_gemma":
        from engine.backends.diffusion_gemma import DiffusionGemmaBackend

        return DiffusionGemmaBackend(spec, device, trust_remote_code=trust_remote_code, **options)
    return HFMaskedBackend(spec, device, trust_remote_code=trust_remote_code, **options)
