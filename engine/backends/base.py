"""What a backend must say so the one denoising loop can drive it: how to tokenize, how to embed
context, how to run one step over the canvas, and what its noise is."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from engine.api import InfillError
from engine.canvas import Layout


@dataclass
class BackendInfo:
    name: str  # e.g. "embedded", "llada", "dream", "diffusion-gemma"
    model: str  # path or id
    device: str
    dtype: str
    max_context: int
    extra: dict[str, Any] = field(default_factory=dict)


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX on this CPU (Linux flags): there bf16 matmuls run 2-3x faster than fp32."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_dtype(device: torch.device, requested: str | None, cpu_bf16: bool = False) -> torch.dtype:
    """`float32` | `bfloat16` | `float16` | `auto` (None: the DG_LSP_DTYPE environment variable, else
    auto). auto: bfloat16 on CUDA (float16 where bf16 is unsupported); on CPU, bfloat16 when
    `cpu_bf16` and the CPU computes bf16 natively (the embedded model's 1k-token context encodes
    ~1.4x faster there, BENCHMARKS.md), else float32."""
    import os

    name = requested or os.environ.get("DG_LSP_DTYPE") or "auto"
    if not isinstance(name, str):
        raise InfillError(f"dtype must be a string (auto, {', '.join(DTYPES)}), not {name!r}")
    name = name.lower()
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_bf16 and device.type == "cpu" and cpu_has_native_bf16() else torch.float32
    if name not in DTYPES:
        raise InfillError(f"unknown dtype {name!r}: use auto, {', '.join(DTYPES)}")
    return DTYPES[name]


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_mode(option: Any) -> str | None:
    """The `compile` model option: false/absent = eager; true = torch.compile's default mode; or a
    torch.compile mode by name (`reduce-overhead` captures CUDA graphs on CUDA)."""
    if option in (None, False, "false", "off", "no"):
        return None
    if option in (True, "true", "on", "yes"):
        return "default"
    if isinstance(option, str) and option in COMPILE_MODES:
        return option
    raise InfillError(f"compile must be true, false or a torch.compile mode ({', '.join(COMPILE_MODES)}), "
                      f"not {option!r}")


class Backend(ABC):
    info: BackendInfo
    device: torch.device
    mask_id: int  # the noise token (for uniform-noise models: unused in the canvas, still a valid id)
    eom_ids: frozenset[int]  # end-of-middle / pad / eos: a fill ends at the first of these
    # The token a canvas holds after its fill has ended, as the model saw it in training (the
    # embedded model trails a middle with end-of-middle tokens, never pad); None = the smallest end id.
    fill_id: int | None = None
    noise: Literal["mask", "uniform"] = "mask"
    buckets: list[int] = [8, 16, 32, 64, 128]
    vocab_size: int
    default_rule: str = "threshold"
    sampler_defaults: dict[str, Any] = {}  # SamplerConfig fields this model's sampler expects

    @abstractmethod
    def encode(self, text: str) -> list[int]: ...

    @abstractmethod
    def decode(self, ids: list[int]) -> str: ...

    @abstractmethod
    def token_texts(self) -> list[str]:
        """Decoded text of every token id (for token healing constraints)."""

    @abstractmethod
    def prepare(self, layout: Layout, cache_key: str | None) -> Any:
        """Encode the context once per request (reusing what a cache allows); returns a handle
        `step` uses. Must set `layout.cached_tokens`."""

    @abstractmethod
    def step(self, ctx: Any, canvas: torch.Tensor, layout: Layout, positions: torch.Tensor | None = None) -> torch.Tensor:
        """canvas [B, C] token ids -> logits [B, C, V] (same-position logits), or [B, k, V] at the
        canvas `positions` [k] alone when given (the open ones; a backend may compute less). The
        sampler edits the tensor in place: return a fresh one, never a view of state the backend keeps."""
