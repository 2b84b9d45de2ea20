"""didOpen / didChange / didClose: keep the server's own versioned copy (and syntax tree)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from dg_lsp.documents import MAX_DOCUMENT_CHARS

if TYPE_CHECKING:
    from dg_lsp.language_server import DgServer

log = logging.getLogger(__name__)


def register(server: DgServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DgServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        if len(doc.text) > MAX_DOCUMENT_CHARS:
            log.warning("%s: %d characters, too large to serve; ignored", doc.uri, len(doc.text))
            return
        ls.store.open(doc.uri, doc.language_id, doc.version, doc.text)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DgServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri not in ls.store:
            return
        try:
            doc = ls.store.change(uri, params.text_document.version, list(params.content_changes))
        except Exception:  # a change we cannot apply: drop the copy rather than serve a wrong one
            log.exception("%s: could not apply a change; closing the server's copy", uri)
            ls.store.close(uri)
            return
        if len(doc.text) > MAX_DOCUMENT_CHARS:
            ls.store.close(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DgServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.store.close(params.text_document.uri)
        ls.typed.forget(params.text_document.uri)
