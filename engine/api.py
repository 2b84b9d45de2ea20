"""The engine's public contract: text with holes in, fills out.

Tokenization belongs to the engine: callers speak text only. `load_engine` picks a backend from a
spec string; `Engine.infill` runs one request on the worker that owns the device.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

Rule = Literal["threshold", "topk", "entropy"]

# LSP language identifiers the engine accepts (the embedded model is trained on Python first but
# fills any text); the server maps anything else to "plaintext".
KNOWN_LANGUAGES = frozenset("""
plaintext python javascript javascriptreact typescript typescriptreact go rust java c cpp csharp
ruby php lua shellscript bash html css scss json jsonc yaml toml markdown sql kotlin scala swift
dart r julia haskell ocaml elixir erlang clojure perl zig nim vue svelte dockerfile makefile xml
""".split())


class InfillError(ValueError):
    """A request the engine cannot serve (no holes, zero budget, empty text…): the message says why."""


class Cancelled(Exception):
    """Raised by `Engine.infill` when its cancel token fired; no partial result is returned."""


class CancelToken:
    """Checked by the denoising loop between steps; `cancel()` may be called from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class Hole:
    """A span to fill. `max_tokens` bounds the fill; `length_hint` picks the first length bucket
    (the hole grows bucket by bucket up to `max_tokens` when the model fills it completely).
    `single_line` cuts the fill at its first newline."""

    max_tokens: int = 64
    length_hint: int | None = None
    single_line: bool = False


Segment = str | Hole


@dataclass
class InfillRequest:
    """Text segments and holes, in document order. `candidates` is a batch dimension; with
    `temperature` 0 decoding is greedy and candidates after the first come from sampling at
    `alt_temperature` so that alternatives differ. `cache_key` (a document URI, say) lets the
    engine reuse context keys/values from the previous request with the same key. `names`: the
    identifiers the document holds outside `segments` (where a window left part of it out), which
    the syntax guard counts as defined (engine/syntax.py)."""

    segments: list[Segment]
    language: str = "python"
    candidates: int = 1
    seed: int | None = 0
    temperature: float = 0.0
    alt_temperature: float = 0.8
    rule: Rule | None = None
    threshold: float | None = None
    tokens_per_step: int | None = None
    cache_key: str | None = None
    names: frozenset[str] = frozenset()

    @property
    def holes(self) -> list[Hole]:
        return [s for s in self.segments if isinstance(s, Hole)]


@dataclass
class InfillStats:
    nfe: int = 0  # forward passes over the canvas (denoising steps, all buckets)
    tokens: int = 0  # tokens committed (first candidate), eom/pad included
    fill_tokens: int = 0  # of those, the fills' own tokens (before each hole's end-of-middle)
    context_tokens: int = 0
    cached_tokens: int = 0  # context tokens whose keys/values were reused from a previous request
    ms: dict[str, float] = field(default_factory=dict)  # phase -> milliseconds ("total" always set)

    @property
    def tokens_per_step(self) -> float:
        return self.tokens / self.nfe if self.nfe else 0.0

    @property
    def fill_tokens_per_step(self) -> float:
        return self.fill_tokens / self.nfe if self.nfe else 0.0


@dataclass
class Candidate:
    fills: list[str]  # one per hole, in order
    score: float  # mean log-probability of the committed tokens (higher is better)


@dataclass
class InfillResult:
    candidates: list[Candidate]
    stats: InfillStats

    @property
    def fills(self) -> list[str]:
        return self.candidates[0].fills


def validate(request: InfillRequest) -> None:
    """Reject what no backend can serve, with a message a user can act on."""
    holes = request.holes
    if not holes:
        raise InfillError("request has no holes: nothing to fill")
    for i, hole in enumerate(holes):
        if hole.max_tokens < 1:
            raise InfillError(f"hole {i} has a token budget of {hole.max_tokens}; it must be at least 1")
    if request.candidates < 1:
        raise InfillError(f"candidates must be at least 1, got {request.candidates}")
    if request.temperature < 0:
        raise InfillError(f"temperature must be >= 0, got {request.temperature}")
    if not any(isinstance(s, str) and s for s in request.segments) and len(holes) == len(request.segments):
        raise InfillError("request has no text around its holes: an infill needs context")
    if request.language not in KNOWN_LANGUAGES:
        raise InfillError(f"unknown language {request.language!r}; use an LSP language id such as "
                          "'python' or 'plaintext'")
    for s in request.segments:
        if not isinstance(s, (str, Hole)):
            raise InfillError(f"segment of type {type(s).__name__}: expected str or Hole")


def load_engine(spec: str = "embedded", device: str | None = None, *, trust_remote_code: bool = False,
                **options) -> "Engine":
    """Build an engine from a spec:

    * ``embedded`` — the model shipped in ``engine/weights`` (default);
    * ``random:tiny`` — a tiny randomly initialised embedded-architecture model (tests, plumbing);
    * a local directory — its ``config.json`` says which backend (embedded, LLaDA/Dream-style masked
      diffusion, DiffusionGemma);
    * a hub id (``org/name``) — loaded through transformers (needs network or a local HF cache);
    * ``http(s)://…`` — a remote engine server.
    """
    from engine.runtime import build_engine  # heavy imports (torch) happen here

    return build_engine(spec, device=device, trust_remote_code=trust_remote_code, **options)


if False:  # pragma: no cover - typing only
    from engine.runtime import Engine  # noqa: F401
