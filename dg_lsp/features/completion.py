"""textDocument/completion: the fill as a completion item, for clients without inline completion
(Helix, Neovim before 0.12). Off unless the `completionItems` setting is on.

The item replaces the word before the cursor with word + fill and filters on the same text, so a
client that filters by the typed word keeps the item.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from engine.api import Cancelled
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from dg_lsp.context import HoleSpan
from dg_lsp.documents import DocumentError
from dg_lsp.features import infill

if TYPE_CHECKING:
    from dg_lsp.language_server import DgServer

log = logging.getLogger(__name__)
_WORD = re.compile(r"[\w$]*$")


def _empty() -> types.CompletionList:
    return types.CompletionList(is_incomplete=True, items=[])


async def completion(ls: DgServer, params: types.CompletionParams) -> types.CompletionList:
    snap = ls.snapshot(params.text_document.uri)
    if snap is None or not ls.settings.completion_items or not ls.settings.language_enabled(snap.language_id):
        return _empty()
    try:
        offset = snap.offset_at(params.position)
    except DocumentError as exc:
        raise JsonRpcInvalidParams(f"dg-lsp: {exc}") from exc
    line_start = snap.line_starts[snap.line_of(offset)]
    word = _WORD.search(snap.text[line_start:offset]).group(0)
    rest = ls.typed.lookup(snap.uri, snap.text, offset)
    fills = [rest] if rest is not None else []
    if not fills:
        hole = HoleSpan(offset, offset, ls.settings.single_line_tokens, single_line=True)
        try:
            out = await infill.fill(ls, snap, [hole], candidates=1, debounce_s=ls.settings.debounce_ms / 1000)
        except (infill.NotReady, Cancelled) as exc:
            log.info("completion %s: %s", snap.uri, exc or type(exc).__name__)
            return _empty()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("completion %s failed: %r", snap.uri, exc)
            return _empty()
        if infill.stale(ls, snap) or not out.ranked:
            return _empty()
        fills = [r.fills[0] for r in out.ranked]
        ls.typed.remember(snap.uri, snap.text, offset, fills[0])
    rng = snap.to_range(offset - len(word), offset)
    items = [types.CompletionItem(
        label=(word + fill).strip()[:80] or fill, kind=types.CompletionItemKind.Snippet, detail="dg-lsp fill",
        filter_text=word + fill, sort_text="0000", preselect=True,
        text_edit=types.TextEdit(range=rng, new_text=word + fill),
        insert_text_format=types.InsertTextFormat.PlainText) for fill in fills if fill.strip()]
    # Incomplete: the client asks again as the user types, which typed-through answers cheaply.
    return types.CompletionList(is_incomplete=True, items=items)


def register(server: DgServer) -> None:
    server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))(completion)
