"""`dg-lsp serve`: start-up, with `initialize` answered before pygls is even imported.

Importing pygls (lsprotocol's types, really) takes 0.3-0.5 s on an idle 2-core machine and several
times that under load, longer than the whole `initialize` budget. Over stdio the server therefore
reads the first message itself (stdlib only), answers `initialize` at once with the capabilities
the pygls server computes (`static_capabilities` mirrors them; tests/unit_lsp/test_fast_start.py
compares the two), then imports pygls and hands it the same `initialize` message so that its state
(client capabilities, position encoding, workspace, our settings) is set exactly as usual; pygls'
own, identical answer to it is dropped. Messages the client sends meanwhile wait in the pipe.
Set DG_LSP_FAST_START=0 to answer through pygls only. TCP always goes through pygls.

Nothing here imports more than the standard library at module level.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
from typing import Any, BinaryIO

log = logging.getLogger("dg_lsp")
VERSION = "0.1.0"
SUPPORTED_ENCODINGS = ("utf-8", "utf-16", "utf-32")

# Kept in sync with dg_lsp.features.code_actions (KINDS and the commands it registers).
CODE_ACTION_KINDS = ["refactor.rewrite.dgLsp.fill", "quickfix.dgLsp.fixLine", "refactor.rewrite.dgLsp.fillHoles",
                     "refactor.rewrite.dgLsp.alternative"]
COMMANDS = ["dgLsp.fillSelection", "dgLsp.fixLine", "dgLsp.fillHoles", "dgLsp.fillRanges", "dgLsp.applyAlternative"]


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def static_capabilities(params: dict) -> dict:
    """The InitializeResult pygls builds for this server, for the client capabilities in `params`."""
    caps = params.get("capabilities") or {}
    encoding = "utf-16"  # pygls: the first client encoding it supports, else UTF-16
    for enc in _get(caps, "general", "positionEncodings") or []:
        if enc in SUPPORTED_ENCODINGS:
            encoding = enc
            break
    sync: dict[str, Any] = {"openClose": True, "change": 2}
    for client_key in ("willSave", "willSaveWaitUntil"):
        if _get(caps, "textDocument", "synchronization", client_key) is not None:
            sync[client_key] = False  # the client may, this server does not register it
    sync["save"] = False
    return {
        "capabilities": {
            "positionEncoding": encoding,
            "textDocumentSync": sync,
            "completionProvider": {"resolveProvider": False},
            "codeActionProvider": {"codeActionKinds": CODE_ACTION_KINDS, "resolveProvider": False},
            "executeCommandProvider": {"commands": COMMANDS},
            "inlineCompletionProvider": {},
            "workspace": {"workspaceFolders": {"supported": True, "changeNotifications": True},
                          "fileOperations": {}},
        },
        "serverInfo": {"name": "dg-lsp", "version": VERSION},
    }


def read_message(stream: BinaryIO) -> tuple[bytes, dict | None]:
    """One JSON-RPC message: (the raw bytes read, the decoded body or None when unreadable)."""
    raw, length = b"", None
    while True:
        line = stream.readline()
        raw += line
        if not line:
            return raw, None
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("ascii", errors="replace").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        return raw, None
    body = stream.read(length)
    raw += body
    try:
        return raw, json.loads(body)
    except ValueError:
        return raw, None


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class ReplayReader:
    """stdin for pygls: first the bytes the fast path already consumed, then the real stream."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix, self._stream = prefix, stream
        self._lock = threading.Lock()

    def readline(self) -> bytes:
        with self._lock:
            if self._prefix:
                cut = self._prefix.find(b"\n")
                if cut != -1:
                    line, self._prefix = self._prefix[:cut + 1], self._prefix[cut + 1:]
                    return line
                line, self._prefix = self._prefix, b""
                return line + self._stream.readline()
        return self._stream.readline()

    def read(self, n: int = -1) -> bytes:
        with self._lock:
            head, self._prefix = (self._prefix[:n], self._prefix[n:]) if n >= 0 else (self._prefix, b"")
        if n >= 0 and len(head) < n:
            return head + self._stream.read(n - len(head))
        return head if n >= 0 else head + self._stream.read()


class DropFirstResponse:
    """stdout for pygls: drops pygls' own answer to the `initialize` the fast path answered."""

    def __init__(self, stream: BinaryIO, msg_id: Any) -> None:
        self._stream, self._msg_id, self._dropped = stream, msg_id, False

    def write(self, data: bytes) -> int:
        if not self._dropped:
            _, _, body = data.partition(b"\r\n\r\n")
            try:
                msg = json.loads(body)
            except ValueError:
                msg = None
            if isinstance(msg, dict) and "method" not in msg and msg.get("id") == self._msg_id:
                self._dropped = True
                if "error" in msg:  # the fast answer was wrong to succeed: say so in the log
                    log.error("initialize failed after the fast answer: %s", msg["error"])
                return len(data)
        return self._stream.write(data)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def _configure_logging(log_file: str | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=logging.INFO, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pygls logs every message in full at INFO (document texts included): too much, too private.
    logging.getLogger("pygls").setLevel(logging.WARNING)


def run_server(args) -> int:
    _configure_logging(getattr(args, "log_file", None))
    model, device = getattr(args, "model", None), getattr(args, "device", None)
    model_options = dict(getattr(args, "model_option", None) or []) or None
    if getattr(args, "tcp", False):
        from dg_lsp.language_server import create_server

        server = create_server(model, device, model_options)
        try:
            server.start_tcp(args.host, args.port)
        finally:
            server.scheduler.close()
        return 0

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    if os.environ.get("DG_LSP_FAST_START", "1") != "0":
        raw, first = read_message(stdin)
        if isinstance(first, dict) and first.get("method") == "initialize" and "id" in first:
            stdout.write(frame({"jsonrpc": "2.0", "id": first["id"],
                                "result": static_capabilities(first.get("params") or {})}))
            stdout.flush()
            stdout = DropFirstResponse(stdout, first["id"])  # type: ignore[assignment]
        stdin = ReplayReader(raw, stdin)  # type: ignore[assignment]

    from dg_lsp.language_server import create_server

    server = create_server(model, device, model_options)
    try:
        server.start_io(stdin, stdout)
    finally:
        server.scheduler.close()
    return 0


def __getattr__(name: str) -> Any:
    """`from dg_lsp.server import DgServer, create_server` still works (imports pygls then)."""
    if name in {"DgServer", "DgProtocol", "create_server"}:
        from dg_lsp import language_server

        return getattr(language_server, name)
    raise AttributeError(name)
