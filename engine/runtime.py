"""The Engine: request → layout → context → denoising (growing holes as needed) → fills.

Line lead: when a hole starts mid-line (the cursor after `    return `), the typed start of that
line is moved out of the context into the hole's canvas as committed tokens, and the context ends
at the line's start. The model then sees the line as it was trained to (canvases of whole lines
with some tokens revealed, the masked-diffusion objective), not as a hole after a dangling
`return ` token, and typing on the cursor's line leaves the context, and its cached keys and
values, untouched. On the shipped model this turns empty fills at mid-line cursors into real ones
(BENCHMARKS.md, "The line lead"). The lead is not part of the fill returned.

Token healing (Microsoft guidance's term): the last token of that lead, or of the text before a
hole that ends inside a word when there is no lead, is taken back into the hole and the hole's next
token is constrained to start with that text, so the model writes `return` as one token instead of
continuing `ret` with `urn`, and ` x` instead of ` ` + `x`.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from engine.api import CancelToken, Candidate, Hole, InfillError, InfillRequest, InfillResult, InfillStats, validate
from engine.backends.base import Backend
from engine.canvas import Layout, budget_streams, cap_bucket, first_bucket, next_bucket
from engine.sampler import CanvasState, SamplerConfig, denoise
from engine.syntax import NextLine, SyntaxGuard, Verdict

_WORD_END = re.compile(r"[A-Za-z0-9_]\Z")
_FIRST_WORD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)")
LEAD_MAX_TOKENS = 48  # a longer typed line stays in the context (token healing only)


@dataclass(frozen=True)
class Lead:
    """What a hole starts with before the model writes: `text` (taken from the end of the text
    before the hole), of which `pinned` token ids are committed in the canvas and `heal` is the text
    the next token must start with."""

    text: str = ""
    pinned: tuple[int, ...] = ()
    heal: str = ""


def pick_device(device: str | None) -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InfillError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def resolve_backend(spec: str, device: str | None = None, trust_remote_code: bool = False, **options) -> Backend:
    from engine.backends.native import WEIGHTS, NativeBackend

    dev = pick_device(device)
    native = spec in ("", "embedded") or spec.startswith("random:") or "d_model" in _read_config(spec)
    if native and set(options) - {"dtype", "compile"}:
        raise InfillError(f"the embedded model takes the dtype and compile options; got {sorted(options)}")
    dtype, comp = (options.get("dtype"), options.get("compile")) if native else (None, None)
    if spec in ("", "embedded"):
        return NativeBackend.from_folder(WEIGHTS, dev, dtype=dtype, compile=comp)
    if spec.startswith("random:"):
        return NativeBackend.tiny_random(dev, dtype=dtype, compile=comp)
    path = Path(os.path.expanduser(spec))
    if path.is_dir():
        if not (path / "config.json").exists():
            raise InfillError(f"{path} has no config.json: not a model folder")
        conf = _read_config(spec)
        if not conf:
            raise InfillError(f"{path / 'config.json'} is not a readable JSON object")
        if "model_type" not in conf and "d_model" in conf:  # our own format
            return NativeBackend.from_folder(path, dev, name=f"native:{path.name}", dtype=dtype, compile=comp)
        if conf.get("model_type") == "diffusion_gemma":
            from engine.backends.diffusion_gemma import DiffusionGemmaBackend

            return DiffusionGemmaBackend(str(path), dev, trust_remote_code=trust_remote_code, **options)
        from engine.backends.hf_masked import HFMaskedBackend

        return HFMaskedBackend(str(path), dev, trust_remote_code=trust_remote_code, **options)
    if re.fullmatch(r"[\w.-]+/[\w.-]+", spec):  # a hub id
        from engine.backends.hf_masked import load_hub_backend

        return load_hub_backend(spec, dev, trust_remote_code=trust_remote_code, **options)
    raise InfillError(f"unknown model spec {spec!r}: use 'embedded', a model folder, a hub id (org/name) or an http(s) URL")


def build_engine(spec: str, device: str | None = None, trust_remote_code: bool = False, **options):
    """`load_engine`'s body: an autoregressive baseline folder gets its own decoder; everything
    else runs the denoising loop over a backend."""
    if spec.startswith(("http://", "https://")):
        from engine.remote import RemoteEngine

        return RemoteEngine(spec, **options)
    if _read_config(spec).get("causal_ar"):
        from engine.autoregressive import AREngine

        return AREngine(Path(os.path.expanduser(spec)), pick_device(device))
    return Engine(resolve_backend(spec, device=device, trust_remote_code=trust_remote_code, **options), spec=spec)


def _read_config(folder: str) -> dict:
    import json

    path = Path(os.path.expanduser(folder)) / "config.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


class Engine:
    def __init__(self, backend: Backend, spec: str = ""):
        self.backend = backend
        self.spec = spec
        self.sampler = SamplerConfig(**{"rule": backend.default_rule, **backend.sampler_defaults})
        self._eom = torch.tensor(sorted(backend.eom_ids), device=backend.device)
        self._fill = int(backend.fill_id if backend.fill_id is not None else min(backend.eom_ids))

    @property
    def info(self) -> dict:
        i = self.backend.info
        return {"name": i.name, "model": i.model, "device": i.device, "dtype": i.dtype,
                "max_context": i.max_context, **i.extra}

    def count_tokens(self, text: str) -> int:
        return len(self.backend.encode(text))

    # ---- request -> layout --------------------------------------------------------------------
    def _normalise(self, segments) -> tuple[list[str], list[Hole]]:
        """Alternate text and holes: text, hole, text, …, text (empty text where two holes touch)."""
        texts, holes, pending = [], [], ""
        for seg in segments:
            if isinstance(seg, Hole):
                texts.append(pending)
                holes.append(seg)
                pending = ""
            else:
                pending += seg
        texts.append(pending)
        return texts, holes

    @property
    def _newline_tokens(self) -> torch.Tensor:
        """[V] bool: tokens whose text holds a newline (they end a single-line hole)."""
        if not hasattr(self, "_nl"):
            self._nl = torch.tensor(["\n" in t for t in self.backend.token_texts()], device=self.backend.device)
        return self._nl

    @property
    def _idle_tokens(self) -> torch.Tensor:
        """[V] bool: tokens that add nothing to a line's code: blank ones and those starting a comment."""
        if not hasattr(self, "_idle"):
            self._idle = torch.tensor([not t.strip() or t.lstrip().startswith("#") for t in self.backend.token_texts()],
                                      device=self.backend.device)
        return self._idle

    def _line_end(self, layout: Layout, holes: list[Hole]) -> torch.Tensor | None:
        """[C, V] bool: which tokens end the hole at each canvas position (single-line holes only)."""
        if not any(h.single_line for h in holes):
            return None
        single = torch.tensor([holes[i].single_line for i in layout.hole_index().tolist()], device=self.backend.device)
        return single[:, None] & self._newline_tokens[None, :]

    @lru_cache(maxsize=8)
    def _header_tokens(self, headers: frozenset[str]) -> torch.Tensor:
        """[V] bool: tokens whose first word is one of `headers` (` if`, `else:`; not ` iffy`)."""
        words = [_FIRST_WORD.match(t) for t in self.backend.token_texts()]
        return torch.tensor([bool(m) and m.group(1) in headers for m in words], device=self.backend.device)

    @lru_cache(maxsize=256)
    def _heal_mask(self, text: str) -> torch.Tensor | None:
        allowed = torch.tensor([t.startswith(text) for t in self.backend.token_texts()], device=self.backend.device)
        return allowed if bool(allowed.any()) else None

    def _lead(self, text: str, first: bool, line_lead: bool) -> Lead:
        """The lead of a hole whose preceding text segment is `text` (`first`: it starts the document).
        Only the text's last line is tokenized here: a token never spans the line's start, and the
        context stream is encoded once, by `_layout`, from what the lead leaves of `text`."""
        start = text.rfind("\n") + 1
        line = text[start:]
        if not line:
            return Lead()
        ids = self.backend.encode(line)
        tail = self.backend.token_texts()[ids[-1]] if ids else ""
        healable = bool(tail) and line.endswith(tail) and self._heal_mask(tail) is not None
        if line_lead and (start > 0 or first) and len(ids) <= LEAD_MAX_TOKENS:
            if line[-1] in " \t" and self._heal_mask(line[-1]) is not None:
                # Byte-level BPE joins a space to the word after it (`   ` + ` return`), so the
                # text after a trailing space starts with that space: heal the one character,
                # not the whole last token (`    ` alone would force a token starting with 4 spaces).
                return Lead(line, tuple(self.backend.encode(line[:-1])), line[-1])
            return Lead(line, tuple(ids[:-1]), tail) if healable else Lead(line, tuple(ids))
        if healable and _WORD_END.search(line):
            return Lead(tail, (), tail)
        return Lead()

    def _layout(self, texts: list[str], holes: list[Hole], line_lead: bool = True) -> tuple[Layout, list[Lead]]:
        leads = [self._lead(texts[i], i == 0, line_lead) for i in range(len(holes))]
        kept = [t[:len(t) - len(lead.text)] for t, lead in zip(texts, leads)] + [texts[-1]]
        streams = budget_streams([self.backend.encode(t) for t in kept], self.backend.info.max_context)
        sizes = [first_bucket(self.backend.buckets, h.length_hint, h.single_line, h.max_tokens, len(lead.pinned))
                 for h, lead in zip(holes, leads)]
        return Layout(streams, sizes), leads

    def _constraints(self, layout: Layout, leads: list[Lead],
                     bans: dict[tuple[int, int], torch.Tensor] | None = None) -> dict[int, torch.Tensor]:
        """Canvas position -> tokens allowed there ([V], or [B, V] per row): token healing's first
        token, and the syntax guard's bans at the first word of a reopened fill (that word, an end)."""
        out = {sl.start + len(lead.pinned): self._heal_mask(lead.heal)
               for sl, lead in zip(layout.hole_slices(), leads) if lead.heal}
        slices = layout.hole_slices()
        for (hole, offset), allowed in (bans or {}).items():
            pos = slices[hole].start + offset
            out[pos] = allowed & out[pos] if pos in out else allowed
        return out

    def _ended(self, tokens: torch.Tensor, line_end: torch.Tensor | None) -> torch.Tensor:
        """[B, C] positions holding an end: end-of-middle, or a newline in a single-line hole
        (`line_end`: `_line_end` of the layout)."""
        ended = torch.isin(tokens, self._eom)
        return ended | line_end.gather(1, tokens.T).T if line_end is not None else ended

    def _reopen(self, rows: dict[int, Verdict], state: CanvasState, layout: Layout,
                holes: list[Hole], leads: list[Lead], ended: torch.Tensor, bans: dict[tuple[int, int], torch.Tensor],
                guard: SyntaxGuard, fills: list[list[str]], continued: dict[tuple[int, int], int],
                limit: int) -> bool:
        """The syntax guard (engine/syntax.py) for `rows` (row -> its `Verdict`: the holes at fault,
        those whose indentation is, those to continue), whose fills (`fills[row]`) broke the
        document where they are (`SyntaxGuard.judge`): a typed line that stopped too soon (`if (a
        == b`) is reopened where its fill ended, with an end forbidden there, so the model writes on
        — `limit` times in a row at most (`continued` counts them per row and hole), then it is
        rewritten like any other; a hole whose indentation is at fault is reopened from its first token
        (the model's indentation), any other from its fill's first token that is not blank (`    if`
        where the suffix wants an assignment); that token and an end are forbidden there (a blank
        line would dodge the parse, not fill the hole), and the row's bans further
        right, about another first word, are lifted. Where the next line's indentation says the line
        is of the other kind (`guard.opens_block`), the whole kind is forbidden there: every block
        keyword, or every word but those. A fill that reads a name defined nowhere (`Verdict.names`)
        is reopened from the token where that name starts, that token and an end forbidden there.
        `ended` [B, C] marks positions holding an end. Returns
        whether anything was reopened. (Reopening every bad fill where it ended, so that it writes
        on, measured worse: BENCHMARKS.md, "Session 7"; on whole lines so did doing it for
        unfinished ones alone, "Session 9".)"""
        B, V = state.tokens.shape[0], self.backend.vocab_size
        dev = state.tokens.device
        eom = torch.zeros(V, dtype=torch.bool, device=dev)
        eom[self._eom] = True
        texts = self.backend.token_texts()

        def take_back(row: int, i: int, sl: slice, pos: int, banned: torch.Tensor,
                      heal: torch.Tensor | None = None) -> bool:
            """Reopen hole `i` of `row` from canvas offset `pos` with `banned` forbidden there (and
            the row's bans further right lifted); False where the position could hold nothing."""
            allowed = bans.setdefault((i, pos), torch.ones(B, V, dtype=torch.bool, device=dev))
            left = allowed[row] & ~banned
            if not bool((left if heal is None else left & heal).any()):
                return False
            for (h, off), other in bans.items():
                if h == i and off > pos:
                    other[row] = True
            allowed[row] &= ~banned
            state.committed[row, sl.start + pos:sl.stop] = False
            state.logp[row, sl.start + pos:sl.stop] = 0.0
            return True

        reopened = False
        for row, verdict in rows.items():
            for i, (sl, hole, lead) in enumerate(zip(layout.hole_slices(), holes, leads)):
                if i not in verdict.faulty:
                    continue
                at = ended[row, sl].nonzero()
                end = int(at[0]) if len(at) else sl.stop - sl.start
                ids = state.tokens[row, sl].tolist()
                stop = (eom | self._newline_tokens) if hole.single_line else eom.clone()
                named = dict(verdict.names).get(i)
                if named is not None:  # a name defined nowhere: rewrite from the token that starts it
                    k = self._token_at([texts[t] for t in ids[:end]], len(lead.text) + named)
                    if k is not None and k >= len(lead.pinned):
                        banned = stop.clone()
                        banned[ids[k]] = True
                        heal = self._heal_mask(lead.heal) if lead.heal and k == len(lead.pinned) else None
                        reopened |= take_back(row, i, sl, k, banned, heal)
                    continue
                w = next((k for k in range(len(lead.pinned), end) if texts[ids[k]].strip()), None)
                if w is None:
                    continue  # a blank fill: nothing to take back
                # the typed line stopped too soon (`if (a == b`): the model writes on from its end, and
                # what follows may not be blank or a comment either (that would dodge the parse)
                if (i in verdict.ends and end < sl.stop - sl.start and continued.get((row, i), 0) < limit
                        and take_back(row, i, sl, end, stop | self._idle_tokens)):
                    continued[row, i] = continued.get((row, i), 0) + 1
                    reopened = True
                    continue
                continued.pop((row, i), None)
                if i in verdict.indent and w > len(lead.pinned):
                    w = len(lead.pinned)  # the model's own indentation is wrong: rewrite it
                banned = stop.clone()
                banned[ids[w]] = True
                block = guard.opens_block(i, fills[row][i]) if texts[ids[w]].strip() else None
                if block is not None:
                    headers = self._header_tokens(guard.headers)
                    if not block and bool(headers[ids[w]]):  # a block header over a line no deeper
                        banned |= headers
                    elif block and not bool(headers[ids[w]]):  # a plain line over a deeper one
                        banned |= ~headers
                heal = self._heal_mask(lead.heal) if lead.heal and w == len(lead.pinned) else None
                # (with the typed start, the first token must still match it)
                reopened |= take_back(row, i, sl, w, banned, heal)
        return reopened

    def _last_resort(self, rows: dict[int, Verdict], state: CanvasState, layout: Layout, leads: list[Lead],
                     ended: torch.Tensor, bans: dict[tuple[int, int], torch.Tensor], guard: SyntaxGuard) -> bool:
        """The syntax guard's last resort, for `rows` (row -> its `Verdict` from `judge(..., plan=True)`)
        whose canvas would be handed back with a document that does not parse: each multi-line
        fill the suffix cannot follow goes on with the line the suffix needs (`Verdict.lines`,
        `_go_on`), and one whose later line holds the error is taken back there, the lines above it
        kept (`Verdict.starts`): a line that stopped unfinished (a header without its colon) is
        written on from its end, a newline forbidden there; any other is written again from its
        first word, that word forbidden there; an end, a blank token or a comment is forbidden
        either way. `ended` [B, C] marks positions holding an end. Returns
        whether anything was reopened."""
        texts = self.backend.token_texts()
        quiet = self._idle_tokens.clone()
        quiet[self._eom] = True
        reopened = False
        for row, verdict in rows.items():
            lines, starts = dict(verdict.lines), {i: (off, on) for i, off, on in verdict.starts}
            for i, (sl, lead) in enumerate(zip(layout.hole_slices(), leads)):
                at = ended[row, sl].nonzero()
                end = int(at[0]) if len(at) else sl.stop - sl.start
                ids = state.tokens[row, sl].tolist()
                if i in lines and i not in starts:
                    reopened |= self._go_on(row, i, sl, ids, end, lead, lines[i], state, bans, guard, quiet)
                elif i in starts:
                    offset, write_on = starts[i]
                    k = self._token_at([texts[t] for t in ids[:end]], len(lead.text) + offset)
                    if k is None and write_on and end + 2 <= sl.stop - sl.start:
                        k = end  # the line stopped where the fill did: on from there
                    if k is None or k < len(lead.pinned):
                        continue
                    banned = quiet | self._newline_tokens if write_on else quiet.clone()
                    banned[ids[k]] = True
                    if self._constrain(row, i, k, ~banned, bans, state.tokens.shape[0]):
                        state.committed[row, sl.start + k:sl.stop] = False
                        state.logp[row, sl.start + k:sl.stop] = 0.0
                        reopened = True
        return reopened

    def _constrain(self, row: int, i: int, pos: int, allowed: torch.Tensor,
                   bans: dict[tuple[int, int], torch.Tensor], rows: int) -> bool:
        """Allow only `allowed` ([V]) at offset `pos` of hole `i` in `row`, keeping what was forbidden
        there before (a line written again must not come back as it was) unless nothing would be
        left, and lift the row's bans further right in the hole (they were about the text that is
        being rewritten). False, changing nothing, where `allowed` is empty."""
        if not bool(allowed.any()):
            return False
        kept = bans.setdefault((i, pos), torch.ones(rows, self.backend.vocab_size, dtype=torch.bool,
                                                    device=allowed.device))
        kept[row] = allowed & kept[row] if bool((allowed & kept[row]).any()) else allowed
        for (h, off), other in bans.items():
            if h == i and off > pos:
                other[row] = True
        return True

    @property
    def _word_tokens(self) -> torch.Tensor:
        """[V] bool: tokens that start with a letter or an underscore (a line's first word at column 0)."""
        if not hasattr(self, "_words"):
            self._words = torch.tensor([bool(re.match(r"[A-Za-z_]", t)) for t in self.backend.token_texts()],
                                       device=self.backend.device)
        return self._words

    def _go_on(self, row: int, i: int, sl: slice, ids: list[int], end: int, lead: Lead, nxt: NextLine,
               state: CanvasState, bans: dict[tuple[int, int], torch.Tensor], guard: SyntaxGuard,
               quiet: torch.Tensor) -> bool:
        """Multi-line hole `i` of `row`, whose fill (canvas tokens `ids`, ending at offset `end`, after
        the hole's `lead`) the suffix cannot follow, goes on with the line the suffix needs
        (`SyntaxGuard.next_line`): its newline and indentation are committed after the fill (in this
        tokenizer a newline and the next line's indentation but its last space are one token, so
        the fill's own last newline token is taken back and written again with them), the rest of
        the hole is reopened, and the model writes the line's first word where that last space
        leads, a block keyword where the line must open a block, none where it must not, one of
        `nxt.words` where the suffix continues it with a clause, the closing brackets where it ends
        a literal (`nxt.close`); the rest of the line is the model's. Where the fill's last line is
        what must become a header (`nxt.rewrite`), that line is written again from its first word
        instead, as a header and not the word it had. Where a bracket the fill opened is still open
        it just writes on from `end`. `quiet` (ends, blank tokens, comments) is forbidden at the
        first word, as where a fill is continued elsewhere. False where the canvas has no room or
        no token qualifies."""
        B = state.tokens.shape[0]
        texts = self.backend.token_texts()
        start = len(lead.pinned)
        allowed = ~quiet
        if nxt.rewrite is not None:  # its last line, again, from its first word
            at = self._token_at([texts[t] for t in ids[:end]], len(lead.text) + nxt.rewrite)
            if at is None or at < start:
                return False
            pinned, word = [], texts[ids[at]]
            ws = word[:len(word) - len(word.lstrip())]  # the indentation's last space, in the word's token
            first = self._heal_mask(ws) if ws else self._word_tokens
            if first is None:
                return False
            allowed = allowed & first & self._header_tokens(nxt.words or guard.headers)
            allowed[ids[at]] = False
        elif nxt.indent is None:
            at, pinned = end, []
        else:
            at, newline = end, ""
            if end > start:  # the new line starts after the fill's, whose newline may be the text's
                last = texts[ids[end - 1]]
                if last.strip() or "\n" not in last:
                    newline = "\n"
                else:
                    at, newline = end - 1, last[:last.rindex("\n") + 1]
            text = newline + nxt.indent[:-1]
            pinned = self.backend.encode(text) if text else []
            if self.backend.decode(pinned) != text:
                return False
            if nxt.close:  # the line's first token starts with the closers (` }`, `}`)
                first = self._heal_mask(nxt.indent[-1:] + nxt.close)
            else:
                first = self._heal_mask(nxt.indent[-1]) if nxt.indent else self._word_tokens
            if first is None:
                return False
            allowed = allowed & first
            headers = self._header_tokens(guard.headers)
            if nxt.header is True:
                allowed = allowed & headers
            elif nxt.header is False:
                allowed = allowed & ~headers
            if nxt.words:
                allowed = allowed & self._header_tokens(nxt.words)
        pos = at + len(pinned)
        if pos + 2 > sl.stop - sl.start or not self._constrain(row, i, pos, allowed, bans, B):
            return False
        lo = sl.start + at
        if pinned:
            state.tokens[row, lo:lo + len(pinned)] = torch.tensor(pinned, device=state.tokens.device)
            state.committed[row, lo:lo + len(pinned)] = True
            state.logp[row, lo:lo + len(pinned)] = 0.0
        state.committed[row, sl.start + pos:sl.stop] = False
        state.logp[row, sl.start + pos:sl.stop] = 0.0
        return True

    @staticmethod
    def _token_at(pieces: list[str], char: int) -> int | None:
        """The index of the piece (a canvas token's text) that holds character `char` of their
        concatenation; None past the end."""
        at = 0
        for k, piece in enumerate(pieces):
            at += len(piece)
            if at > char:
                return k
        return None

    # ---- the request ----------------------------------------------------------------------------
    def infill(self, request: InfillRequest, cancel: CancelToken | None = None) -> InfillResult:
        validate(request)
        t0 = time.perf_counter()
        ms: dict[str, float] = {}
        texts, holes = self._normalise(request.segments)
        cfg = self._sampler_config(request)
        layout, leads = self._layout(texts, holes, cfg.line_lead)
        t1 = time.perf_counter()
        ms["tokenize"] = (t1 - t0) * 1e3
        with torch.inference_mode():
            ctx = self.backend.prepare(layout, request.cache_key)
            t2 = time.perf_counter()
            ms["context"] = (t2 - t1) * 1e3
            state, layout, nfe = self._denoise(request, cfg, texts, holes, leads, layout, ctx, cancel)
        t3 = time.perf_counter()
        ms["denoise"] = (t3 - t2) * 1e3
        candidates = [self._decode(state, layout, holes, leads, row) for row in range(request.candidates)]
        ms["total"] = (time.perf_counter() - t0) * 1e3
        pinned = sum(len(lead.pinned) for lead in leads)  # written by the user, not the model
        committed = int(state.committed[0].sum()) - pinned
        row0 = state.tokens[0].tolist()
        fill_tokens = sum(self._fill_end(row0[sl]) for sl in layout.hole_slices()) - pinned
        stats = InfillStats(nfe=nfe, tokens=committed, fill_tokens=fill_tokens, context_tokens=layout.context_len,
                            cached_tokens=layout.cached_tokens, ms=ms)
        return InfillResult(candidates, stats)

    def _sampler_config(self, request: InfillRequest) -> SamplerConfig:
        cfg = SamplerConfig(**self.sampler.__dict__)
        cfg.rule = request.rule or cfg.rule
        if request.threshold is not None:
            cfg.threshold = request.threshold
        if request.tokens_per_step is not None:
            cfg.tokens_per_step = request.tokens_per_step
        if self.backend.device.type == "cuda":
            cfg.sync_every = 4  # fewer host syncs; extra steps on a finished canvas are no-ops
        return cfg

    def _denoise(self, request: InfillRequest, cfg: SamplerConfig, texts: list[str], holes: list[Hole], leads: list[Lead],
                 layout: Layout, ctx, cancel: CancelToken | None):
        dev, B = self.backend.device, request.candidates
        gen = torch.Generator(device=dev)
        gen.manual_seed(request.seed if request.seed is not None else int(time.time_ns() % 2**31))
        temps = torch.full((B,), request.alt_temperature, device=dev)
        temps[0] = request.temperature
        if request.temperature > 0:
            temps[:] = request.temperature
        C = layout.canvas_len
        state = CanvasState(torch.zeros(B, C, dtype=torch.long, device=dev), torch.zeros(B, C, dtype=torch.bool, device=dev),
                            torch.zeros(B, C, device=dev))
        for sl, lead in zip(layout.hole_slices(), leads):
            if lead.pinned:
                at = slice(sl.start, sl.start + len(lead.pinned))
                state.tokens[:, at] = torch.tensor(lead.pinned, device=dev)
                state.committed[:, at] = True
        caps = [cap_bucket(self.backend.buckets, h.max_tokens + len(lead.pinned)) for h, lead in zip(holes, leads)]
        guard = (SyntaxGuard.build(request.language, texts, [h.single_line for h in holes], names=cfg.name_guard,
                                   known=request.names)
                 if cfg.syntax_retries > 0 else None)
        bans: dict[tuple[int, int], torch.Tensor] = {}  # (hole, offset in it) -> [B, V] tokens allowed there
        continued: dict[tuple[int, int], int] = {}  # (row, hole) -> times continued in a row
        nfe, tried = 0, []  # tried: the guard's rejected canvases, (the guard's keys per row, state, layout)
        resort: list | None = None  # the last resort's canvases, once it has begun (same shape)
        resort_budget = 0
        while True:
            line_end = self._line_end(layout, holes)
            nfe += denoise(lambda x, cols=None: self.backend.step(ctx, x, layout, cols), state, layout.hole_index(dev),
                           cfg=cfg, compact=cfg.sync_every == 1,
                           mask_id=self.backend.mask_id, eom_ids=self._eom, fill_id=self._fill, temperatures=temps,
                           constraints=self._constraints(layout, leads, bans), line_end=line_end,
                           noise_vocab=self.backend.vocab_size if self.backend.noise == "uniform" else 0,
                           cancel=cancel, generator=gen)
            ended = self._ended(state.tokens, line_end)
            grow = [i for i, sl in enumerate(layout.hole_slices())
                    if layout.hole_sizes[i] < caps[i] and not bool(ended[:, sl].any(1).all())]
            if grow:
                state, layout = self._grow(state, layout, grow, ended)
                continue
            if guard is None:
                return state, layout, nfe
            # The syntax guard, on a finished canvas (engine/syntax.py).
            fills = [self._decode(state, layout, holes, leads, r).fills for r in range(B)]
            if resort is None:
                verdicts = [guard.judge(f) for f in fills]
                bad = {r: v for r, v in enumerate(verdicts) if v.faulty}
                errs = [v.key for v in verdicts]
                if bad and len(tried) < cfg.syntax_retries and nfe < cfg.syntax_pass_budget:
                    tried.append((errs, state.clone(), layout))
                    if self._reopen(bad, state, layout, holes, leads, ended, bans, guard, fills, continued,
                                    cfg.syntax_continue):
                        continue
                # accepted, or out of retries or passes (or nothing to reopen): the canvas with the
                # fewest errors — an accepted one may still lose to one tried before, whose only fault
                # was a name where this one has an error the guard put elsewhere — the earliest on ties
                # (min keeps the first of equals)
                _, state, layout = min(tried + [(errs, state, layout)], key=lambda t: t[0])
                if cfg.syntax_lines <= 0 or all(h.single_line for h in holes):
                    return state, layout, nfe
                resort, resort_budget = [], nfe + cfg.syntax_pass_budget
                fills = [self._decode(state, layout, holes, leads, r).fills for r in range(B)]
                ended = self._ended(state.tokens, self._line_end(layout, holes))
            # The last resort: a canvas handed back with a document that does not parse, where a
            # multi-line fill stops short of what the suffix needs (`SyntaxGuard.next_line`), goes on
            # a line at a time, for at most `syntax_lines` rounds and `syntax_pass_budget` more
            # passes; the first canvas that parses is kept, else the one handed back before.
            # Canvases that parse are never touched, so no fill that passed changes.
            verdicts = [guard.judge(f, plan=True) for f in fills]
            errs = [(v.broken, v.key[2]) for v in verdicts]
            rows = {r: v for r, v in enumerate(verdicts) if v.broken and (v.lines or v.starts)}
            if rows and len(resort) <= cfg.syntax_lines and nfe < resort_budget:
                resort.append((errs, state.clone(), layout))
                if self._last_resort(rows, state, layout, leads, ended, bans, guard):
                    continue
            _, state, layout = min(resort + [(errs, state, layout)], key=lambda t: t[0])
            return state, layout, nfe

    def _grow(self, state: CanvasState, layout: Layout, grow: list[int], ended: torch.Tensor) -> tuple[CanvasState, Layout]:
        """Give each full hole its next bucket: committed tokens stay; new positions are open, or
        end-of-middle for rows whose fill already ended in that hole (`ended` [B, C])."""
        new = layout
        for i in grow:
            new = new.grown(i, next_bucket(self.backend.buckets, new.hole_sizes[i]))
        B, dev = state.tokens.shape[0], state.tokens.device
        parts_t, parts_c, parts_l = [], [], []
        fill = self._fill
        for i, (old_sl, size) in enumerate(zip(layout.hole_slices(), new.hole_sizes)):
            t, c, lp = state.tokens[:, old_sl], state.committed[:, old_sl], state.logp[:, old_sl]
            extra = size - t.shape[1]
            if extra:
                done = ended[:, old_sl].any(1, keepdim=True).expand(B, extra)
                t = torch.cat([t, torch.full((B, extra), fill, device=dev, dtype=t.dtype)], 1)
                c = torch.cat([c, done], 1)
                lp = torch.cat([lp, torch.zeros(B, extra, device=dev)], 1)
            parts_t.append(t)
            parts_c.append(c)
            parts_l.append(lp)
        return CanvasState(torch.cat(parts_t, 1), torch.cat(parts_c, 1), torch.cat(parts_l, 1)), new

    def _fill_end(self, ids: list[int]) -> int:
        """Where a hole's fill ends: its first end-of-middle/pad/eos token, else its whole length."""
        return next((k for k, t in enumerate(ids) if t in self.backend.eom_ids), len(ids))

    def _decode(self, state: CanvasState, layout: Layout, holes: list[Hole], leads: list[Lead], row: int) -> Candidate:
        fills, logps = [], []
        tokens = state.tokens[row].tolist()
        for sl, hole, lead in zip(layout.hole_slices(), holes, leads):
            ids = tokens[sl]
            end = self._fill_end(ids)
            n = len(lead.pinned)
            logps += state.logp[row, sl][n: min(end + 1, len(ids))].tolist()  # the model's tokens only
            text = self.backend.decode(ids[:min(end, n + hole.max_tokens)])
            if lead.text:  # the canvas spells the lead, then the fill; never hand the lead back twice
                text = text[len(lead.text):] if text.startswith(lead.text) else ""
            if hole.single_line and "\n" in text:
                text = text[: text.index("\n") + 1]  # a line ends with its newline
            fills.append(text)
        return Candidate(fills, sum(logps) / max(1, len(logps)))
