"""The denoising loop: one function for every backend.

Each step predicts every open canvas position, then commits some of them:

* ``threshold`` — every position whose confidence passes τ, and always at least the most
  confident one per row (Fast-dLLM's parallel decoding, Wu et al. 2025);
* ``topk`` — the k most confident per step (LLaDA's low-confidence remasking, Nie et al. 2025);
* ``entropy`` — positions in order of rising entropy while their summed entropy, less the largest,
  stays under a bound
  (DiffusionGemma's entropy-bounded sampler; Ben-Hamu et al. 2025); uncommitted positions are
  renoised with uniform random tokens when the backend's noise is uniform.

Adaptive stopping: when every open position predicts the same token as in the previous step and
all are at least `stable_conf` confident, they are committed together. A committed end-of-middle
token ends its hole: later positions of that hole become end-of-middle too.

End runs (`end_run`, on by default): when an end-of-middle is committed, the open positions just
left of it that also predict end-of-middle, contiguously and in the same hole, are committed with
it. A canvas is trained as content followed by a run of end-of-middle tokens, so the run is one
decision, not one per step; without this, an empty or short fill costs one forward pass per padding
position (the run grows leftwards a position per step). `end_run_conf` bounds what joins a run:
far from the content the end is a position's most likely token without being likely (p 0.1–0.5 on
the embedded model), and taking those ends along cut lines short (`    if len(`, the length trap in
ARCHITECTURE.md); the embedded model's backend asks for 0.7.

With `anchor_eom`, length is decided where the content ends: an end-of-middle prediction may be
committed only at a hole's first position or right after a committed position. Padding at a canvas's tail is the
easiest thing to predict; without this rule confident end-of-middle tokens are committed from the
right, one position further left each step, until they swallow the fill.

With `fallback="leftmost"`, a step whose positions all miss the threshold commits the first open
position of each hole instead of the row's most confident one (often padding at the tail): where
the model is unsure the fill is written left to right, as in semi-autoregressive block decoding
(LLaDA, Nie et al. 2025). The embedded model's backend turns it on (`NativeBackend.sampler_defaults`);
other backends keep "confident". BENCHMARKS.md ("Session 4", "Session 6") has the comparisons.

The syntax guard (`syntax_retries`, engine/syntax.py) acts between runs of this loop, in
engine/runtime.py: it reopens a finished canvas whose fills broke the document where they are,
through `constraints`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine.api import CancelToken, Cancelled


@dataclass
class SamplerConfig:
    rule: str = "threshold"
    threshold: float = 0.85
    tokens_per_step: int = 1
    entropy_bound: float = 1.0
    stable_conf: float = 0.6
    max_steps: int = 512
    anchor_eom: bool = False  # end-of-middle only next to committed text (see the module docstring);
    # off by default: on the shipped checkpoint it lowers single-line pass@1 (0.017 -> 0) and parse rate
    sync_every: int = 1  # steps between host-side termination checks (raise on CUDA)
    end_run: bool = True  # commit an end-of-middle's contiguous run of end predictions with it
    end_run_conf: float = 0.0  # a position joins an end run only when its end prediction is this sure
    line_lead: bool = True  # the typed start of the cursor's line goes into the canvas (engine/runtime.py)
    syntax_retries: int = 0  # times the syntax guard may reopen a canvas (engine/syntax.py); 0 = off
    syntax_continue: int = 2  # times in a row the guard continues a typed line that stopped too
    # soon (`if (a == b`) where its fill ended, before it rewrites the fill instead; 0 = never
    name_guard: bool = True  # the guard also rejects a Python fill that reads a name defined nowhere
    syntax_pass_budget: int = 64  # the guard reopens only while the request has used fewer passes:
    # a long fill written a token per pass would otherwise cost (1 + retries) times its passes
    syntax_lines: int = 0  # the guard's last resort: lines a multi-line Python fill that leaves the
    # document broken may go on with, towards the levels the suffix needs (engine/runtime.py,
    # `Engine._last_resort`), within `syntax_pass_budget` more passes; 0 = off
    fallback: str = "confident"  # a step that passes no threshold commits the row's most "confident"
    # position, or the "leftmost" open position of each hole (see the module docstring)

    def __post_init__(self) -> None:
        if self.fallback not in ("confident", "leftmost"):
            raise ValueError(f"sampler fallback {self.fallback!r}: expected 'confident' or 'leftmost'")


def with_fields(cfg: SamplerConfig, fields: dict) -> SamplerConfig:
    """A copy of `cfg` with `fields` replaced (`dg-lsp eval --sampler`, the benchmarks' variants).
    ValueError names a field SamplerConfig does not have, or a value of another type than the
    field's (an int is a float's value; a bool is no int's), or one the config refuses."""
    merged = dict(cfg.__dict__)
    for key, value in fields.items():
        if key not in merged:
            known = ", ".join(sorted(merged))
            raise ValueError(f"unknown sampler field {key!r} (fields: {known})")
        default = merged[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        else:
            ok = isinstance(value, type(default)) and not isinstance(value, bool)
        if not ok:
            raise ValueError(f"sampler field {key!r} takes a {type(default).__name__}, got {value!r}")
        merged[key] = value
    return SamplerConfig(**merged)


@dataclass
class CanvasState:
    tokens: torch.Tensor  # [B, C] committed token (garbage where not committed)
    committed: torch.Tensor  # [B, C] bool
    logp: torch.Tensor  # [B, C] log-probability of each committed token when it was committed

    def clone(self) -> "CanvasState":
        return CanvasState(self.tokens.clone(), self.committed.clone(), self.logp.clone())


def _leftmost(open_: torch.Tensor, hole_starts: torch.Tensor, hole_idx: torch.Tensor) -> torch.Tensor:
    """The first open position of each hole. open_ [B, C] -> bool [B, C]."""
    n = open_.long()
    cum = n.cumsum(1)
    before = (cum - n)[:, hole_starts][:, hole_idx]  # open positions left of each position's hole
    return open_ & (cum - before == 1)


def _select(rule: str, cfg: SamplerConfig, conf: torch.Tensor, entropy: torch.Tensor, open_: torch.Tensor,
            leftmost: torch.Tensor | None = None) -> torch.Tensor:
    """Which open positions to commit this step. conf/entropy/open_ [B, C] -> bool [B, C];
    `leftmost` (the threshold rule's fallback) replaces the row's most confident position."""
    neg = torch.finfo(conf.dtype).min
    if rule == "topk":
        k = min(cfg.tokens_per_step, conf.shape[1])
        idx = conf.masked_fill(~open_, neg).topk(k, dim=1).indices
        return torch.zeros_like(open_).scatter_(1, idx, True) & open_
    if rule == "entropy":
        ent = entropy.masked_fill(~open_, float("inf"))
        order = ent.argsort(dim=1)
        sorted_ent = ent.gather(1, order)
        # DiffusionGemma's bound: the chosen positions' summed entropy, less the largest of them,
        # stays under the bound (so the least uncertain position always qualifies)
        keep = (sorted_ent.cumsum(1) - sorted_ent) <= cfg.entropy_bound
        return torch.zeros_like(open_).scatter_(1, order, keep) & open_
    if leftmost is not None:
        return ((conf >= cfg.threshold) | leftmost) & open_
    best = conf.masked_fill(~open_, neg).argmax(dim=1, keepdim=True)
    at_least_one = torch.zeros_like(open_).scatter_(1, best, True)
    return ((conf >= cfg.threshold) | at_least_one) & open_


def _ends(tokens: torch.Tensor, eom_ids: torch.Tensor, line_end: torch.Tensor | None) -> torch.Tensor:
    """[B, C] bool: `tokens` that end their hole — an end-of-middle, or where `line_end` [C, V] says
    so (a newline in a single-line hole)."""
    ends = torch.isin(tokens, eom_ids)
    return ends | line_end.gather(1, tokens.T).T if line_end is not None else ends


def _end_holes(state: CanvasState, hole_idx: torch.Tensor, eom_ids: torch.Tensor, fill_id: int,
               line_end: torch.Tensor | None = None) -> None:
    """Positions after a committed end-of-middle in the same hole become committed end-of-middle.
    `line_end` [C, V] bool, where given, marks tokens that end a single-line hole at that position
    (a newline): the token stays and the positions after it end."""
    is_eom = (state.committed & _ends(state.tokens, eom_ids, line_end)).long()  # [B, C]
    cum = is_eom.cumsum(1)
    # eom count before each hole's first position, per row
    starts = torch.zeros_like(hole_idx, dtype=torch.bool)
    starts[0] = True
    starts[1:] = hole_idx[1:] != hole_idx[:-1]
    before_hole = (cum - is_eom)[:, starts]  # [B, n_holes]
    seen_before = (cum - is_eom - before_hole[:, hole_idx]) > 0
    state.tokens = torch.where(seen_before, torch.full_like(state.tokens, fill_id), state.tokens)
    state.logp = torch.where(seen_before & ~state.committed, torch.zeros_like(state.logp), state.logp)
    state.committed = state.committed | seen_before


def _end_runs(sel: torch.Tensor, ends_pred: torch.Tensor, state: CanvasState, open_: torch.Tensor,
              ends_committed: torch.Tensor, hole_last: torch.Tensor) -> torch.Tensor:
    """Open positions predicting an end whose contiguous run of end positions (open and predicting
    an end, or committed ends), within one hole, reaches an end committed now or before. [B, C]."""
    endish = (open_ & ends_pred) | (state.committed & ends_committed)
    seeds = (sel & ends_pred) | (state.committed & ends_committed)
    # scan from the right: seeds seen in the current run (a run breaks at a non-end position and
    # at a hole's last position, where the hole to its left begins in reversed order)
    e, sd, last = endish.flip(1), seeds.flip(1).long(), hole_last.flip(0)
    cs = sd.cumsum(1)
    base = torch.where(~e, cs, torch.where(last[None, :], cs - sd, torch.zeros_like(cs)))
    in_run = (cs - base.cummax(1).values) > 0
    return (e & in_run).flip(1) & open_ & ends_pred


def denoise(step: Callable[[torch.Tensor], torch.Tensor], state: CanvasState, hole_idx: torch.Tensor, *,
            cfg: SamplerConfig, mask_id: int, eom_ids: torch.Tensor, temperatures: torch.Tensor,
            fill_id: int | None = None,
            constraints: dict[int, torch.Tensor] | None = None, noise_vocab: int = 0,
            line_end: torch.Tensor | None = None, compact: bool = False,
            cancel: CancelToken | None = None, generator: torch.Generator | None = None) -> int:
    """Run until every canvas position is committed. `temperatures` [B] (0 = greedy row);
    `constraints` maps a canvas position to a bool [V] of allowed tokens; `noise_vocab` > 0 means
    uniform noise: open positions hold random ids below it instead of the mask; `line_end` [C, V]
    marks tokens that end a single-line hole at each position; `fill_id` is what positions after
    an ended fill hold (default the smallest of `eom_ids`). With `compact`, `step` is called as
    `step(x, cols)` and returns logits at the canvas columns `cols` alone ([B, k, V]: those open in
    some row; committed positions' predictions are never read), and everything per position is
    computed for those columns (it costs a host sync per step: for CPUs, which sync anyway).
    Returns forward passes."""
    nfe, prev_pred = 0, None
    vocab_fill = int(eom_ids.min()) if fill_id is None else int(fill_id)
    hole_starts = torch.ones_like(hole_idx, dtype=torch.bool)
    hole_starts[1:] = hole_idx[1:] != hole_idx[:-1]
    hole_last = torch.ones_like(hole_starts)
    hole_last[:-1] = hole_starts[1:]
    sample_rows = temperatures > 0
    any_sampled = bool(sample_rows.any())  # once, before the loop: inside it every step would sync on CUDA
    while nfe < cfg.max_steps:
        if nfe % cfg.sync_every == 0 and bool(state.committed.all()):
            break
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        if noise_vocab:
            noise = torch.randint(0, noise_vocab, state.tokens.shape, device=state.tokens.device, generator=generator)
            x = torch.where(state.committed, state.tokens, noise)
        else:
            x = torch.where(state.committed, state.tokens, torch.full_like(state.tokens, mask_id))
        open_ = ~state.committed
        if compact:
            cols = open_.any(0).nonzero()[:, 0]
            logits = step(x, cols).float()  # [B, k, V]
            where = {c: j for j, c in enumerate(cols.tolist())}
        else:
            cols, where = None, None
            logits = step(x).float()  # [B, C, V]
        nfe += 1
        logits[..., mask_id] = float("-inf")
        for pos, allowed in (constraints or {}).items():
            j = pos if where is None else where.get(pos)
            if j is not None:
                logits[:, j].masked_fill_(~allowed, float("-inf"))
        # log_softmax is one fused kernel: on a CPU ~3x faster than logsumexp's separate passes
        logp = torch.log_softmax(logits, dim=-1)  # [B, C, V] (or [B, k, V])
        pred = logits.argmax(-1)
        if any_sampled:
            t = temperatures.clamp(min=1e-4)[:, None, None]
            gumbel = -torch.log(-torch.log(torch.rand(logits.shape, device=logits.device, generator=generator).clamp(1e-9, 1)))
            sampled = (logits / t + gumbel).argmax(-1)  # the normaliser does not move an argmax
            pred = torch.where(sample_rows[:, None], sampled, pred)
        chosen = logp.gather(-1, pred[..., None])[..., 0]  # [B, C] (or [B, k])
        if cfg.rule == "entropy":
            entropy = -(logp.exp() * logp.nan_to_num(neginf=0.0)).sum(-1)
        if cols is not None:  # back to canvas width; committed positions' values are never read
            pred = state.tokens.clone().index_copy_(1, cols, pred)
            chosen = torch.zeros_like(state.logp).index_copy_(1, cols, chosen)
            if cfg.rule == "entropy":
                entropy = torch.zeros_like(state.logp).index_copy_(1, cols, entropy)
        conf = chosen.exp()
        if cfg.rule != "entropy":
            entropy = conf
        anchored = torch.ones_like(open_)  # position 0 of a hole, or its left neighbour is committed
        anchored[:, 1:] = state.committed[:, :-1] | hole_starts[1:]
        ends_pred = torch.isin(pred, eom_ids)
        eligible = open_ & (anchored | ~ends_pred) if cfg.anchor_eom else open_
        leftmost = _leftmost(eligible, hole_starts, hole_idx) if cfg.fallback == "leftmost" else None
        sel = _select(cfg.rule, cfg, conf, entropy, eligible, leftmost)
        if cfg.end_run:
            sure_ends = ends_pred & (conf >= cfg.end_run_conf) if cfg.end_run_conf > 0 else ends_pred
            sel = sel | _end_runs(sel, sure_ends, state, open_, torch.isin(state.tokens, eom_ids), hole_last)
        if prev_pred is not None:  # adaptive stop: stable and confident
            stable = ((pred == prev_pred) | ~open_).all(1) & (conf.masked_fill(~open_, 1.0).min(1).values >= cfg.stable_conf)
            sel = sel | (open_ & stable[:, None])
        prev_pred = pred
        state.tokens = torch.where(sel, pred, state.tokens)
        state.logp = torch.where(sel, chosen, state.logp)
        state.committed = state.committed | sel
        # a hole's positions after a committed end are committed ends; only a step that committed an
        # end changes that (the first step: the canvas may arrive with ends, grown or reopened)
        if not compact or nfe == 1 or bool((sel & _ends(pred, eom_ids, line_end)).any()):
            _end_holes(state, hole_idx, eom_ids, vocab_fill, line_end)
    return nfe
