"""The embedded model: a small transformer whose context keys/values never depend on the canvas.

Layout. A request's text segments (prefix, the text between holes, suffix) are *context streams*;
its holes are *canvases*. Each stream is causal in reading order and sees only itself, so its
keys/values depend on nothing else: typing at the cursor (the end of the prefix stream) re-encodes
only the new tail tokens, and the suffix stream is untouched. Canvas tokens attend bidirectionally
to every stream and to every canvas — the canvas is the only place both sides meet, and it sees
them at their true document offsets.

Positions. RoPE (Su et al. 2021) with document positions. Because RoPE scores depend only on
q_pos − k_pos, a stream's keys can be cached rotated in the stream's own frame (token j at j), so a
stream's cache survives text that moves it (typing before the suffix); each request rotates them
once more by the stream's document offset o (rotations compose: j + o), and canvas queries at
document positions then score every stream in one product. Training uses document positions plus
a block mask; the scores are equal (tests/engine/test_engine.py).

Objective (engine/train/train.py): masked diffusion on canvases (MDLM, Sahoo et al. 2024; LLaDA,
Nie et al. 2025) plus next-token prediction on the causal context streams, which costs no extra
forward pass. `causal_ar=True` makes the same network a plain causal fill-in-the-middle LM
(Bavarian et al. 2022, PSM order): the autoregressive baseline.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelConfig:
    vocab_size: int = 8192
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    ffn_hidden: int = 704
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    pad_id: int = 0
    mask_id: int = 1
    eom_id: int = 2
    pre_id: int = 3
    suf_id: int = 4
    mid_id: int = 5
    eos_id: int = 6
    buckets: list[int] = field(default_factory=lambda: [8, 16, 32, 64, 128])
    max_context: int = 2048
    causal_ar: bool = False  # the autoregressive FIM baseline

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def load(cls, path: Path) -> "ModelConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(pos: torch.Tensor, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """pos [..., L] (any integers, negative allowed) -> cos, sin [..., L, head_dim/2]."""
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, device=pos.device, dtype=torch.float32) / head_dim)
    ang = pos.to(torch.float32)[..., None] * inv
    return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, H, L, Dh]; cos/sin broadcastable to [B, 1, L, Dh/2]. Rotates pairs (x1, x2) = halves."""
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


@lru_cache(maxsize=1)
def _mkldnn_linear():
    """oneDNN's linear over a prepacked weight (PyTorch's CPU builds; inductor's frozen graphs use
    it): `(op, pack)`, or None where this build lacks it. Looked up once (it is on every product)."""
    try:
        return torch.ops.mkldnn._linear_pointwise, torch.ops.mkldnn._reorder_linear_weight
    except (AttributeError, RuntimeError):
        return None


def _packed_linear(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """x @ Wᵀ with W in `DiffusionCoder.pack`'s layout."""
    return _mkldnn_linear()[0](x, packed, None, "none", [], "")


def padded_length(n: int) -> int:
    """A stream encoding's padded width: a power of two up to 64 tokens, then a multiple of 64."""
    return n if n <= 1 else 1 << (n - 1).bit_length() if n <= 64 else -(-n // 64) * 64


@dataclass
class StreamCache:
    """Keys/values of one context stream, rotated in the stream's own frame. k, v: per layer
    [1, H, n, Dh]. `ids` are the tokens they encode (for reuse by longest common prefix)."""

    ids: list[int]
    k: list[torch.Tensor]
    v: list[torch.Tensor]

    def truncated(self, n: int) -> "StreamCache":
        return StreamCache(self.ids[:n], [t[:, :, :n] for t in self.k], [t[:, :, :n] for t in self.v])


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.d_model // cfg.n_heads
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.gate_up = nn.Linear(cfg.d_model, 2 * cfg.ffn_hidden, bias=False)
        self.down = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=False)
        self.packed: dict[str, torch.Tensor] | None = None  # `DiffusionCoder.pack`

    MATRICES = ("qkv", "kv", "out", "gate_up", "down")  # what `linear` multiplies by

    def weight(self, name: str) -> torch.Tensor:
        """One of `MATRICES` ("kv": the keys' and values' rows of qkv)."""
        if name == "kv":
            return self.qkv.weight[self.n_heads * self.head_dim:]
        return getattr(self, name).weight

    def linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """x @ W(name)ᵀ: through the packed copy when there is one and no gradient is wanted."""
        if self.packed is not None and not torch.is_grad_enabled():
            return _packed_linear(x, self.packed[name])
        return F.linear(x, self.weight(name))

    def _qkv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries and keys (rotated together: one RoPE call for both) and values, each [B, H, n, Dh]."""
        b, n, _ = x.shape
        qkv = self.linear(self.attn_norm(x), "qkv").view(b, n, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        qk = apply_rope(qkv[:2], cos, sin)
        return qk[0], qk[1], qkv[2]

    def _finish(self, x: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        b, _, n, _ = attn.shape
        x = x + self.linear(attn.transpose(1, 2).reshape(b, n, -1), "out")
        gate, up = self.linear(self.mlp_norm(x), "gate_up").chunk(2, dim=-1)
        return x + self.linear(F.silu(gate) * up, "down")

    def forward_masked(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Training / full-sequence path. x [B, L, D]; mask [B, 1, L, L] bool (True = may attend)."""
        q, k, v = self._qkv(x, cos, sin)
        return self._finish(x, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))

    def forward_stream(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                       past_k: torch.Tensor | None, past_v: torch.Tensor | None):
        """Causal incremental encoding of new stream tokens x [1, n, D] after `past` [1, H, m, Dh]."""
        q, k, v = self._qkv(x, cos, sin)
        if past_k is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        n, total = q.shape[2], k.shape[2]
        if n == total:  # nothing cached: plain causal attention (SDPA's fast kernel, no mask tensor)
            return self._finish(x, F.scaled_dot_product_attention(q, k, v, is_causal=True)), k, v
        # query i (absolute index total-n+i) sees keys 0..total-n+i
        causal = torch.ones(n, total, dtype=torch.bool, device=x.device).tril(diagonal=total - n)
        return self._finish(x, F.scaled_dot_product_attention(q, k, v, attn_mask=causal)), k, v

    def stream_kv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                  past_k: torch.Tensor | None, past_v: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward_stream`'s keys and values alone (its queries, attention and MLP are unused)."""
        b, n, _ = x.shape
        kv = self.linear(self.attn_norm(x), "kv")
        k, v = kv.view(b, n, 2, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        k = apply_rope(k, cos, sin)
        if past_k is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        return k, v

    def forward_canvas(self, x: torch.Tensor, canvas_rope: tuple[torch.Tensor, torch.Tensor],
                       keys: torch.Tensor | None, values: torch.Tensor | None,
                       rows: torch.Tensor | None = None) -> torch.Tensor:
        """Canvas tokens x [B, C, D] attend to the context and to the whole canvas, under one
        softmax. `keys`/`values` [B, H, n_ctx + C, Dh] hold every stream's keys (turned into
        document positions) and values in front, written once per request
        (`DiffusionCoder.kv_buffers`); the step writes the canvas's own behind them, so attention
        is one fused call (SDPA) over one tensor and no context tensor is copied. None: no context.
        `rows` [k]: only these canvas positions' outputs are wanted [B, k, D] (every position still
        gives its keys and values): the last block, whose outputs feed only the logits."""
        q, k, v = self._qkv(x, *canvas_rope)
        if rows is not None:
            q, x = q[:, :, rows], x[:, rows]
        if keys is None:
            return self._finish(x, F.scaled_dot_product_attention(q, k, v))
        n_ctx = keys.shape[2] - k.shape[2]
        keys[:, :, n_ctx:] = k
        values[:, :, n_ctx:] = v
        return self._finish(x, F.scaled_dot_product_attention(q, keys, values))


class DiffusionCoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.kind = nn.Embedding(2, cfg.d_model)  # 0 = context stream token, 1 = canvas token
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head_dim = cfg.d_model // cfg.n_heads
        self.packed: torch.Tensor | None = None  # `pack`: the output embedding, packed
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        h = self.norm(h)
        if self.packed is not None and not torch.is_grad_enabled():
            return _packed_linear(h, self.packed)
        return F.linear(h, self.embed.weight)  # tied output embedding (no transposed copy)

    def pack(self, rows: int = 16) -> bool:
        """Inference on a CPU: copy every weight matrix into oneDNN's packed layout once, so that
        the small products of a canvas step (16-32 rows against each matrix) stop re-laying the
        weight out on every call. The results are the same, bit for bit in bfloat16 (within rounding
        in float32); a step is ~1.2x faster (BENCHMARKS.md, "Session 10"). `rows` is the typical row count (a layout hint only). The
        copies are a snapshot: call again after the weights change (training never uses them:
        they serve only calls made without gradients). False, and nothing packed, off a CPU, in
        float16, where this PyTorch build lacks oneDNN's packed linear, or where oneDNN refuses the
        format on this CPU (bfloat16 on an AVX2-only CPU)."""
        ops = _mkldnn_linear()
        w = self.embed.weight
        if ops is None or w.device.type != "cpu" or w.dtype not in (torch.float32, torch.bfloat16) \
                or not torch.backends.mkldnn.is_available():
            self.unpack()
            return False
        try:
            with torch.no_grad():
                for block in self.blocks:
                    block.packed = {k: ops[1](block.weight(k).contiguous(), rows) for k in block.MATRICES}
                self.packed = ops[1](w, rows)
        except RuntimeError:  # oneDNN refuses the layout on this CPU (bf16 without AVX-512 / AVX-NE-CONVERT)
            self.unpack()
            return False
        return True

    def unpack(self) -> None:
        """Drop `pack`'s copies (every product goes back to the weights themselves)."""
        self.packed = None
        for block in self.blocks:
            block.packed = None

    def _rope(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = rope_cos_sin(pos, self.head_dim, self.cfg.rope_base)
        return cos.unsqueeze(-3), sin.unsqueeze(-3)  # broadcast over heads

    # ---- training: full sequences with a block mask --------------------------------------------
    def forward(self, ids: torch.Tensor, pos: torch.Tensor, kind: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids/pos/kind [B, L]; mask [B, 1, L, L] bool. Returns hidden states [B, L, D]."""
        x = self.embed(ids) + self.kind(kind)
        cos, sin = self._rope(pos)
        for block in self.blocks:
            x = block.forward_masked(x, cos, sin, mask)
        return x

    # ---- inference: streams, then canvas steps --------------------------------------------------
    @torch.no_grad()
    def encode_stream(self, ids: list[int], past: StreamCache | None = None, hidden: bool = True,
                      pad: bool = False) -> tuple[StreamCache, torch.Tensor]:
        """Encode a context stream, reusing `past` for its longest common token prefix. Returns the
        cache and the hidden states of the tokens encoded now [1, n_new, D] (the AR baseline's
        next-token logits come from the last one). With `hidden=False` a stream whose tokens are all
        cached is not encoded at all (an unchanged suffix while the user types), and the last block computes only
        its keys and values — all a canvas reads of a stream — and skips its attention and MLP (a
        quarter of a 4-layer model's context encoding); the states returned are then the last
        block's input. With `pad` the new tokens are encoded padded to `padded_length` and the pads'
        keys, values and states dropped: a stream is causal, so no real token sees a pad, and on a
        CPU the matmuls then see a few shapes again and again instead of a new one per request
        (oneDNN builds a kernel per shape: ~2x the time of a cached one, BENCHMARKS.md "Session 7")."""
        dev = self.embed.weight.device
        keep = 0
        if past is not None:
            while keep < min(len(past.ids), len(ids)) and past.ids[keep] == ids[keep]:
                keep += 1
            if keep == len(ids) and keep > 0:
                if not hidden:  # nothing new and no state wanted: the cache as it is
                    whole = past if len(past.ids) == keep else past.truncated(keep)
                    return whole, self.embed.weight.new_zeros(1, 0, self.cfg.d_model)
                keep -= 1  # nothing new; keep one token so a hidden state exists
            past = past.truncated(keep) if keep else None
        new = ids[keep:]
        n = len(new)
        width = padded_length(n) if pad else n
        x = self.embed(torch.tensor([new + [self.cfg.pad_id] * (width - n)], device=dev)) + self.kind.weight[0]
        cos, sin = self._rope(torch.arange(keep, keep + width, device=dev))
        ks, vs = [], []
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            pk, pv = (past.k[i], past.v[i]) if past else (None, None)
            if i == last and not hidden:
                k, v = block.stream_kv(x, cos, sin, pk, pv)
            else:
                x, k, v = block.forward_stream(x, cos, sin, pk, pv)
            ks.append(k[:, :, :keep + n] if width > n else k)
            vs.append(v[:, :, :keep + n] if width > n else v)
        return StreamCache(list(ids), ks, vs), x[:, :n]

    def context_kv(self, streams: list[tuple[StreamCache, int]]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per layer, every stream's keys and values concatenated [1, H, n_ctx, Dh], once per request.
        A stream's keys are cached in its own frame (token j at j); rotating them by the stream's
        document offset o puts them at j + o (RoPE rotations compose), so canvas queries at document
        positions score every stream in one product."""
        if not streams:
            return [], []
        offsets = [self._rope(torch.tensor([off], device=self.embed.weight.device)) for _, off in streams]
        keys, values = [], []
        for i in range(len(streams[0][0].k)):
            keys.append(torch.cat([apply_rope(s.k[i], c, sn) if off else s.k[i]
                                   for (s, off), (c, sn) in zip(streams, offsets)], dim=2))
            values.append(torch.cat([s.v[i] for s, _ in streams], dim=2))
        return keys, values

    @staticmethod
    def kv_buffers(ctx_kv: tuple[list[torch.Tensor], list[torch.Tensor]], batch: int,
                   canvas_len: int) -> tuple[list[torch.Tensor], list[torch.Tensor]] | None:
        """Per layer, key and value buffers [batch, H, n_ctx + canvas_len, Dh] holding `context_kv`'s
        tensors in front, for `forward_canvas` to write the canvas's keys and values behind (once
        per request and canvas shape). None when there is no context."""
        keys, values = ctx_kv
        if not keys:
            return None

        def buffer(t: torch.Tensor) -> torch.Tensor:
            b = t.new_empty(batch, t.shape[1], t.shape[2] + canvas_len, t.shape[3])
            b[:, :, :t.shape[2]] = t
            return b

        return [buffer(t) for t in keys], [buffer(t) for t in values]

    def canvas_rope(self, canvas_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The canvas's RoPE tables in the model's number format (reused every step)."""
        cos, sin = self._rope(canvas_pos)
        dtype = self.embed.weight.dtype
        return cos.to(dtype), sin.to(dtype)

    @torch.no_grad()
    def canvas_logits(self, canvas: torch.Tensor, canvas_pos: torch.Tensor,
                      streams: list[tuple[StreamCache, int]], rope=None, buffers=None,
                      positions: torch.Tensor | None = None) -> torch.Tensor:
        """canvas [B, C] token ids (mask id where unknown); canvas_pos [C] document positions;
        streams: (cache, document offset of its first token); rope: `canvas_rope(canvas_pos)` and
        buffers: `kv_buffers(context_kv(streams), B, C)` if precomputed (a step writes into them).
        Returns logits [B, C, V], or [B, k, V] at `positions` [k] alone (the open ones: the last
        block's attention and MLP and the output layer then run for those rows only)."""
        x = self.embed(canvas) + self.kind.weight[1]
        rope = rope or self.canvas_rope(canvas_pos)
        if buffers is None and streams:
            buffers = self.kv_buffers(self.context_kv(streams), canvas.shape[0], canvas.shape[1])
        keys, values = buffers or (None, None)
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = block.forward_canvas(x, rope, keys[i] if keys else None, values[i] if values else None,
                                     positions if i == last else None)
        return self.logits(x)


def load_model(folder: Path, device: str = "cpu", dtype: torch.dtype = torch.float32) -> DiffusionCoder:
    """Load `config.json` + `model.safetensors` from a folder (no pickle)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg = ModelConfig.load(folder / "config.json")
    model = DiffusionCoder(cfg)
    state = load_file(str(folder / "model.safetensors"), device="cpu")
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if missing or unexpected:
        raise ValueError(f"weights in {folder} do not match config: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.to(device=device, dtype=dtype).eval()


def save_model(model: DiffusionCoder, folder: Path, dtype: torch.dtype = torch.float16,
               tokenizer: Path | None = None, tokens_seen: int | None = None) -> None:
    """Write a loadable model folder: config, half-precision safetensors, and the tokenizer.

    `tokens_seen` (training tokens behind these weights) goes into config.json so that a run
    warm-started from this folder keeps counting from there (the learning curve's x axis)."""
    import shutil

    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if tokenizer is not None:
        shutil.copyfile(tokenizer, folder / "tokenizer.json")
    meta = model.cfg.to_dict()
    if tokens_seen is not None:
        meta["tokens_seen"] = int(tokens_seen)
    (folder / "config.json").write_text(json.dumps(meta, indent=1))
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
