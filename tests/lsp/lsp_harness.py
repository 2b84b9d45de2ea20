"""End-to-end harness: the real server over stdio (`python -m dg_lsp.cli serve`), a pytest-lsp
client that records `dgLsp/status`, `$/progress` and `workspace/applyEdit`, and helpers. Tests
import it (and the fixtures they use) by name; it is not a conftest.py, so it cannot clash with
another test folder's.

Most tests run the tiny random-weight model (`random:tiny`: the real engine code path, garbage
text), so they check plumbing, never fill quality.
"""
from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parents[2]
SERVE = [sys.executable, "-m", "dg_lsp.cli", "serve"]


@dataclass
class Recorder:
    statuses: list[dict] = field(default_factory=list)
    edits: list[t.ApplyWorkspaceEditParams] = field(default_factory=list)
    apply_result: bool = True
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def state(self) -> str | None:
        return self.statuses[-1]["state"] if self.statuses else None


def _plain(obj: Any) -> dict:
    return {k: getattr(obj, k) for k in ("state", "device", "model", "message")} if not isinstance(obj, dict) else obj


def attach(client: LanguageClient) -> Recorder:
    rec = Recorder()
    client.rec = rec  # type: ignore[attr-defined]

    @client.feature("dgLsp/status")
    def on_status(params: Any) -> None:
        rec.statuses.append(_plain(params))
        rec.changed.set()

    @client.feature(t.WORKSPACE_APPLY_EDIT)
    def on_apply(params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
        rec.edits.append(params)
        rec.changed.set()
        return t.ApplyWorkspaceEditResult(applied=rec.apply_result,
                                          failure_reason=None if rec.apply_result else "refused by test")

    return rec


async def wait_state(client: LanguageClient, *states: str, timeout: float = 240.0) -> dict:
    """Wait (event driven, no polling sleeps) until the server reports one of `states`."""
    rec: Recorder = client.rec  # type: ignore[attr-defined]

    async def until() -> dict:
        while True:
            for s in rec.statuses:
                if s["state"] in states:
                    return s
            rec.changed.clear()
            await rec.changed.wait()

    return await asyncio.wait_for(until(), timeout)


def capabilities() -> t.ClientCapabilities:
    return t.ClientCapabilities(
        window=t.WindowClientCapabilities(work_done_progress=True),
        workspace=t.WorkspaceClientCapabilities(configuration=True, apply_edit=True),
        text_document=t.TextDocumentClientCapabilities(
            inline_completion=t.InlineCompletionClientCapabilities(),
            code_action=t.CodeActionClientCapabilities(code_action_literal_support=t.ClientCodeActionLiteralOptions(
                code_action_kind=t.ClientCodeActionKindOptions(value_set=["", "quickfix", "refactor"])))))


async def start(client: LanguageClient, init_options: dict | None = None, *, wait_ready: bool = True) -> t.InitializeResult:
    attach(client)
    result = await client.initialize_session(t.InitializeParams(
        capabilities=capabilities(), initialization_options=init_options,
        root_uri=ROOT.as_uri(), workspace_folders=[t.WorkspaceFolder(uri=ROOT.as_uri(), name="root")]))
    client.init_result = result  # type: ignore[attr-defined]
    if wait_ready:
        status = await wait_state(client, "ready", "error")
        assert status["state"] == "ready", status
    return result


def open_doc(client: LanguageClient, uri: str, text: str, language: str = "python", version: int = 1) -> None:
    client.text_document_did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)))


def change_doc(client: LanguageClient, uri: str, version: int, rng: t.Range | None, text: str) -> None:
    change = (t.TextDocumentContentChangePartial(range=rng, text=text) if rng is not None
              else t.TextDocumentContentChangeWholeDocument(text=text))
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]))


def pos(line: int, character: int) -> t.Position:
    return t.Position(line=line, character=character)


async def inline(client: LanguageClient, uri: str, position: t.Position, invoked: bool = True):
    kind = t.InlineCompletionTriggerKind.Invoked if invoked else t.InlineCompletionTriggerKind.Automatic
    return await client.text_document_inline_completion_async(t.InlineCompletionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=position,
        context=t.InlineCompletionContext(trigger_kind=kind)))


async def command(client: LanguageClient, name: str, arg: dict) -> Any:
    return await client.workspace_execute_command_async(t.ExecuteCommandParams(command=name, arguments=[arg]))


def tiny_fixture(extra_args: list[str] | None = None, init: dict | None = None, wait_ready: bool = True,
                 scope: str = "function", model: str | None = "random:tiny"):
    """A client of a fresh server. With scope="module" the server is shared by a test module (use
    `pytestmark = pytest.mark.asyncio(loop_scope="module")` there and a distinct URI per test)."""
    cmd = SERVE + (["--model", model] if model else []) + (extra_args or [])

    @pytest_lsp.fixture(config=ClientServerConfig(server_command=cmd, server_env=_env()), scope=scope, loop_scope=scope)
    async def fixture(lsp_client: LanguageClient):
        await start(lsp_client, {"debounceMs": 0, "maxFillTokens": 8, "candidates": 2, **(init or {})},
                    wait_ready=wait_ready)
        yield
        await lsp_client.shutdown_session()

    return fixture


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


client = tiny_fixture()
shared = tiny_fixture(scope="module")


async def raw_request(client: LanguageClient, method: str, params: Any) -> Any:
    """Send a request and return the raw JSON result, bypassing lsprotocol's decoding: lsprotocol
    2025.0.0 mis-decodes a CodeAction that carries a `command` on the client side (the JSON the
    server sends is right)."""
    import uuid

    from pygls.protocol.json_rpc import JsonRPCResponseMessage

    msg_id = str(uuid.uuid4())
    future = client.protocol.send_request(method, params, msg_id=msg_id)
    client.protocol._result_types[msg_id] = JsonRPCResponseMessage  # decoded as plain JSON
    return await asyncio.wrap_future(future)
