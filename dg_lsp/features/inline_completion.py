"""textDocument/inlineCompletion (LSP 3.18): ghost text at the cursor.

Typed-through first (the user typed the start of the suggestion shown last: serve the rest, no
engine), then a debounced engine job that supersedes the document's previous one. An explicit
invoke skips the debounce and asks for up to `candidates` alternatives. A result computed for a
version the document has since left is dropped, never shown.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from engine.api import Cancelled
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from dg_lsp import context
from dg_lsp.context import HoleSpan
from dg_lsp.documents import DocumentError
from dg_lsp.features import infill

if TYPE_CHECKING:
    from dg_lsp.language_server import DgServer

log = logging.getLogger(__name__)
EMPTY = types.InlineCompletionList(items=[])


def _items(position: types.Position, fills: list[str]) -> types.InlineCompletionList:
    rng = types.Range(start=position, end=position)
    return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=f, range=rng) for f in fills])


async def inline_completion(ls: DgServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    snap = ls.snapshot(params.text_document.uri, with_tree=False)  # typed-through needs no tree
    if snap is None or not ls.settings.language_enabled(snap.language_id):
        return EMPTY
    try:
        offset = snap.offset_at(params.position)
    except DocumentError as exc:
        raise JsonRpcInvalidParams(f"dg-lsp: {exc}") from exc
    if (rest := ls.typed.lookup(snap.uri, snap.text, offset)) is not None:
        return _items(params.position, [rest])
    snap = ls.snapshot(snap.uri)
    invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    multiline = ls.settings.inline_multiline and context.wants_multiline(snap, offset)
    tokens = ls.settings.max_fill_tokens if multiline else ls.settings.single_line_tokens
    hole = HoleSpan(offset, offset, tokens, single_line=not multiline)
    try:
        out = await infill.fill(ls, snap, [hole], candidates=ls.settings.candidates if invoked else 1,
                                debounce_s=0.0 if invoked else ls.settings.debounce_ms / 1000)
    except (infill.NotReady, Cancelled) as exc:  # loading, or superseded by a newer keystroke
        log.info("inline completion %s: %s", snap.uri, exc or type(exc).__name__)
        return EMPTY
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # bad request or engine failure: an empty answer and a log line
        log.warning("inline completion %s failed: %r", snap.uri, exc)
        return EMPTY
    if infill.stale(ls, snap) or not out.ranked:
        return EMPTY
    fills = [r.fills[0] for r in out.ranked]
    ls.typed.remember(snap.uri, snap.text, offset, fills[0])
    return _items(params.position, fills)


def register(server: DgServer) -> None:
    server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(inline_completion)
