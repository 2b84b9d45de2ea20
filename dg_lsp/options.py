"""Typed settings. Sources, later wins: defaults < `initializationOptions` < `workspace/configuration`
(section `dgLsp`, re-read on `workspace/didChangeConfiguration`) < command-line flags (`--model`,
`--device`, `--model-option`, which adds to or overrides `modelOptions` key by key). A bad value
never crashes the server: it is reported (the caller shows it with `window/showMessage`) and the
default is used instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

SECTION = "dgLsp"


@dataclass(frozen=True)
class Settings:
    model: str = "embedded"  # embedded | random:tiny | local path | hub id | http(s)://remote
    device: str | None = None  # cpu | cuda | cuda:N; None: cuda when available
    # fixed-text tokens around the holes: the embedded model's training windows (448 before + 160 after)
    # and a ~1k-token encode costs ~200 ms on a 2-core CPU; raise it for larger models
    max_context_tokens: int = 640
    max_fill_tokens: int = 64  # per multi-line hole; single-line holes take a quarter
    debounce_ms: int = 60  # wait this long after the last keystroke before running the engine
    candidates: int = 3  # alternatives on explicit invoke and in code actions
    hole_marker: str = "???"
    enabled_languages: tuple[str, ...] = ("*",)  # languageIds, "*" for all
    completion_items: bool = False  # also answer textDocument/completion with the fill
    trust_remote_code: bool = False  # let a hub/local model run its own Python code
    inline_multiline: bool = True  # allow multi-line ghost text after a block opener
    # backend options, as `--model-option KEY=VALUE` gives them (dtype, compile, dual_cache, fim_template…)
    model_options: tuple[tuple[str, Any], ...] = ()

    def language_enabled(self, language_id: str) -> bool:
        return "*" in self.enabled_languages or language_id in self.enabled_languages

    @property
    def single_line_tokens(self) -> int:
        # The rest of a line is rarely over 16 tokens, and a model that never ends a fill runs to
        # its budget: a quarter keeps p95 latency down (measured: 32 → 16 tokens halves p95).
        return max(8, self.max_fill_tokens // 4)


# wire name → (field, check); a check returns the value to use or raises ValueError(reason).
def _int(lo: int, hi: int):
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
            raise ValueError("expected an integer")
        if not lo <= v <= hi:
            raise ValueError(f"expected {lo}..{hi}")
        return int(v)
    return check


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("expected true or false")
    return v


def _str(allow_empty: bool = False):
    def check(v: Any) -> str:
        if not isinstance(v, str) or (not allow_empty and not v.strip()):
            raise ValueError("expected a non-empty string")
        return v.strip()
    return check


def _device(v: Any) -> str | None:
    if v is None or v == "" or v == "auto":
        return None
    if not isinstance(v, str) or not (v in {"cpu", "cuda", "mps"} or v.startswith("cuda:")):
        raise ValueError("expected auto, cpu, cuda, cuda:N or mps")
    return v


def _languages(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError("expected a list of language ids")
    return tuple(v) or ("*",)


def _model_options(v: Any) -> tuple[tuple[str, Any], ...]:
    if not isinstance(v, dict) or not all(isinstance(k, str) and k for k in v):
        raise ValueError("expected an object of option names to values, e.g. {\"dtype\": \"float32\"}")
    for key, value in v.items():
        if not (value is None or isinstance(value, (str, int, float, bool)) or
                (isinstance(value, list) and all(isinstance(x, (str, int, float, bool)) for x in value))):
            raise ValueError(f"{key}: expected a string, number, boolean or a list of them")
    return tuple(sorted((k, tuple(x) if isinstance(x, list) else x) for k, x in v.items()))


CHECKS = {
    "model": ("model", _str()),
    "device": ("device", _device),
    "maxContextTokens": ("max_context_tokens", _int(64, 32768)),
    "maxFillTokens": ("max_fill_tokens", _int(1, 1024)),
    "debounceMs": ("debounce_ms", _int(0, 5000)),
    "candidates": ("candidates", _int(1, 8)),
    "holeMarker": ("hole_marker", _str()),
    "enabledLanguages": ("enabled_languages", _languages),
    "completionItems": ("completion_items", _bool),
    "trustRemoteCode": ("trust_remote_code", _bool),
    "inlineMultiline": ("inline_multiline", _bool),
    "modelOptions": ("model_options", _model_options),
}


@dataclass
class Parsed:
    settings: Settings
    problems: list[str] = field(default_factory=list)


def parse(raw: Any, base: Settings | None = None) -> Parsed:
    """Apply the user's settings (a dict; either the `dgLsp` section itself or an object holding
    it) on top of `base`. Unknown keys are ignored; bad values keep the base value."""
    base = base or Settings()
    if raw is None:
        return Parsed(base)
    if not isinstance(raw, dict):
        return Parsed(base, [f"{SECTION} settings must be an object, got {type(raw).__name__}"])
    if isinstance(raw.get(SECTION), dict):
        raw = raw[SECTION]
    values, problems = {}, []
    for key, value in raw.items():
        if key not in CHECKS:
            continue
        name, check = CHECKS[key]
        try:
            values[name] = check(value)
        except ValueError as exc:
            default = getattr(Settings(), name)
            problems.append(f"{SECTION}.{key} = {value!r} ignored ({exc}); using {default!r}")
            values[name] = default
    return Parsed(replace(base, **values), problems)


def with_cli(settings: Settings, model: str | None, device: str | None,
             model_options: dict[str, Any] | None = None) -> Settings:
    """Command-line flags beat every client setting (model options key by key)."""
    values: dict[str, Any] = {k: v for k, v in (("model", model), ("device", device)) if v}
    if model_options:
        values["model_options"] = _model_options({**engine_options(settings), **model_options})
    return replace(settings, **values)


def engine_options(settings: Settings) -> dict[str, Any]:
    """`model_options` as keyword arguments for `load_engine` (lists back as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.model_options}


def to_wire(settings: Settings) -> dict[str, Any]:
    wire = {name: key for key, (name, _) in CHECKS.items()}
    out = {wire[f.name]: getattr(settings, f.name) for f in fields(settings)}
    out["modelOptions"] = engine_options(settings)
    return out
