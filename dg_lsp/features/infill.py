"""The fill pipeline every feature shares: pin context → engine job → post-process → result.

Not an LSP method itself. Context pinning runs on the event loop (tree-sitter, a few ms); the engine
call and the ranking (which re-parses the document per variant) run on the worker thread. Engine
results are cached by request content, so asking again for the same thing costs no engine time.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.api import Cancelled, InfillError, InfillRequest
from lsprotocol import types
from pygls.exceptions import (JsonRpcContentModified, JsonRpcInternalError, JsonRpcInvalidParams,
                              JsonRpcRequestCancelled, JsonRpcServerNotInitialized)

from dg_lsp import context, edits
from dg_lsp.context import ContextError, HoleSpan
from dg_lsp.documents import DocumentError, Snapshot

if TYPE_CHECKING:
    from dg_lsp.language_server import DgServer

log = logging.getLogger(__name__)


class NotReady(Exception):
    """The engine is still loading (or failed to load)."""


@dataclass
class Outcome:
    snap: Snapshot
    holes: list[HoleSpan]
    ranked: list[edits.Ranked]
    stats: Any = None


def _cache_key(ls: DgServer, request: InfillRequest) -> tuple:
    segs = tuple(s if isinstance(s, str) else (s.max_tokens, s.length_hint, s.single_line) for s in request.segments)
    return ls.host.generation, request.language, request.candidates, segs, request.names


async def fill(ls: DgServer, snap: Snapshot, holes: list[HoleSpan], *, candidates: int,
               debounce_s: float = 0.0, key: str | None = None) -> Outcome:
    """Fill `holes` jointly. Raises NotReady, ContextError, InfillError, Cancelled (superseded or
    cancelled) or the engine's own failure; cancelling the awaiting task stops the engine job."""
    if not ls.host.ready:
        raise NotReady(f"model {ls.host.spec or ls.settings.model!r} is {ls.host.state}")
    if "\x00" in snap.text:
        raise ContextError(f"{snap.uri} looks binary (it contains NUL characters); not filling it")
    pinned = context.pin(snap, holes, context_budget(ls, holes))
    request = InfillRequest(segments=pinned.segments, language=pinned.language, candidates=candidates,
                            cache_key=snap.uri, names=context.names_outside(snap, pinned.window))
    ck = _cache_key(ls, request)
    if (hit := ls.results.get(ck)) is not None:
        return Outcome(snap, pinned.holes, edits.rank(snap, pinned.holes, [(c.fills, c.score) for c in hit.candidates]), hit.stats)

    def job(engine, token):
        result = engine.infill(request, cancel=token)
        return result, edits.rank(snap, pinned.holes, [(c.fills, c.score) for c in result.candidates])

    ticket = ls.host.submit(job, key=key or snap.uri, debounce_s=debounce_s)
    msg_id = ls.track(ticket)
    try:
        result, ranked = await asyncio.wrap_future(ticket.future)
    except asyncio.CancelledError:
        ticket.cancel()  # the client cancelled: stop the denoising loop at its next step
        raise
    finally:
        ls.untrack(msg_id)
    ls.results.put(ck, result)
    st = result.stats
    log.info("%s v%d: %d hole(s), %d candidate(s), %.0f ms, %d steps, context %d tokens (%d cached)", snap.uri,
             snap.version, len(holes), len(ranked), st.ms.get("total", 0.0), st.nfe, st.context_tokens, st.cached_tokens)
    return Outcome(snap, pinned.holes, ranked, result.stats)


def context_budget(ls: DgServer, holes: list[HoleSpan]) -> int:
    """The setting, clamped so that context and holes fit the model's window."""
    info = getattr(ls.host.engine, "info", None) or {}
    window = info.get("max_context")
    budget = ls.settings.max_context_tokens
    if isinstance(window, int) and window > 0:
        budget = min(budget, window - sum(h.max_tokens for h in holes) - 16)
    return max(budget, 32)


def lsp_error(exc: BaseException) -> Exception:
    """Map a failure to the JSON-RPC error a command answers with."""
    if isinstance(exc, NotReady):
        return JsonRpcServerNotInitialized(f"dg-lsp: {exc}; try again when it is ready")
    if isinstance(exc, (DocumentError, ContextError, InfillError)):
        return JsonRpcInvalidParams(f"dg-lsp: {exc}")
    if isinstance(exc, Cancelled):
        return JsonRpcRequestCancelled(f"dg-lsp: {exc}")
    log.error("engine failure: %r", exc)
    return JsonRpcInternalError(f"dg-lsp: the engine failed: {exc}")


def stale(ls: DgServer, snap: Snapshot) -> bool:
    return ls.current_version(snap.uri) != snap.version


def stale_error(snap: Snapshot) -> Exception:
    return JsonRpcContentModified(f"dg-lsp: {snap.uri} changed while filling; nothing was applied")


def text_edits(snap: Snapshot, holes: list[HoleSpan], fills: list[str]) -> list[types.TextEdit]:
    return [types.TextEdit(range=snap.to_range(h.start, h.end), new_text=f) for h, f in zip(holes, fills)]


def workspace_edit(snap: Snapshot, holes: list[HoleSpan], fills: list[str]) -> types.WorkspaceEdit:
    """A versioned edit: a client holding another version of the document must refuse it."""
    doc = types.OptionalVersionedTextDocumentIdentifier(uri=snap.uri, version=snap.version)
    return types.WorkspaceEdit(document_changes=[
        types.TextDocumentEdit(text_document=doc, edits=text_edits(snap, holes, fills))])


def selection_hole(ls: DgServer, snap: Snapshot, start: int, end: int) -> HoleSpan:
    """A hole replacing [start, end): its length hint is the current text's size."""
    old = snap.text[start:end]
    hint = max(1, context.estimate_tokens(old))
    budget = max(ls.settings.max_fill_tokens, min(4 * hint, 1024))
    return HoleSpan(start, end, budget, single_line="\n" not in old, length_hint=min(hint, budget))

