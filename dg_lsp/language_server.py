"""The LanguageServer subclass, its state, and feature registration (see server.py for start-up).

Nothing imported here at module level pulls in torch, transformers, engine.runtime or a
tree-sitter grammar: the engine is loaded on the worker thread after `initialized`, grammars on
the first document of their language.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from dg_lsp import languages
from dg_lsp.documents import DocumentStore, Snapshot
from dg_lsp.options import Settings
from dg_lsp.scheduler import LRU, EngineHost, Scheduler, Ticket, TypedThrough
from dg_lsp.server import VERSION

log = logging.getLogger("dg_lsp")


class DgProtocol(LanguageServerProtocol):
    """`$/cancelRequest` also fires the CancelToken of the engine job serving that request, so
    the denoising loop stops within one step (pygls alone only cancels the awaiting task, and not
    at all for `workspace/executeCommand`, which it runs through a generator)."""

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        ticket = self._server.inflight.pop(msg_id, None) if isinstance(self._server, DgServer) else None
        if ticket is not None:
            ticket.cancel()
        super()._handle_cancel_notification(msg_id)


class DgServer(LanguageServer):
    def __init__(self, cli_model: str | None = None, cli_device: str | None = None,
                 cli_model_options: dict[str, Any] | None = None) -> None:
        super().__init__("dg-lsp", VERSION, protocol_cls=DgProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.cli_model, self.cli_device, self.cli_model_options = cli_model, cli_device, cli_model_options
        self.settings = Settings()
        self.store = DocumentStore(parser_for=languages.parser_for)
        self.scheduler = Scheduler()
        self.host = EngineHost(self.scheduler, self._on_engine_state)
        self.results: LRU[Any, Any] = LRU(256)  # engine results by request content
        self.typed = TypedThrough()
        self.inflight: dict[Any, Ticket] = {}  # request id → engine job, for $/cancelRequest
        self.loop: asyncio.AbstractEventLoop | None = None
        self.progress_token: str | None = None

    # -- helpers used by the features ------------------------------------------------------------
    def snapshot(self, uri: str, *, with_tree: bool = True) -> Snapshot | None:
        return self.store.snapshot(uri, with_tree=with_tree) if uri in self.store else None

    def current_version(self, uri: str) -> int | None:
        return self.store.get(uri).version if uri in self.store else None

    def request_id(self) -> Any:
        try:
            return self.protocol._ctx_msg_id.get()  # set by pygls for the request being handled
        except LookupError:
            return None

    def track(self, ticket: Ticket) -> Any:
        msg_id = self.request_id()
        if msg_id is not None:
            self.inflight[msg_id] = ticket
        return msg_id

    def untrack(self, msg_id: Any) -> None:
        self.inflight.pop(msg_id, None)

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        log.warning("%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"dg-lsp: {message}"))

    def call_soon(self, fn, *args) -> None:
        """Run `fn` on the event loop; safe from any thread (the writer is not thread-safe)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def _on_engine_state(self, state: str, message: str) -> None:
        self.call_soon(self._publish_state, state, message)

    def _publish_state(self, state: str, message: str) -> None:
        from dg_lsp.features import lifecycle

        lifecycle.on_state(self, state, message)  # ends the progress before "ready" goes out
        self.protocol.notify("dgLsp/status", {"state": state, "device": self.host.device,
                                              "model": self.host.spec, "message": message})


def create_server(cli_model: str | None = None, cli_device: str | None = None,
                  cli_model_options: dict[str, Any] | None = None) -> DgServer:
    from dg_lsp.features import register_all

    server = DgServer(cli_model, cli_device, cli_model_options)
    register_all(server)
    return server
