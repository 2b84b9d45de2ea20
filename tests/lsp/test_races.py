"""Edits racing requests, cancellation and superseding: a stale result is never applied or shown,
and every request gets exactly one answer."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from lsp_harness import change_doc, inline, open_doc, pos
from lsp_harness import shared  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio(loop_scope="module")
TEXT = "def area(r):\n    value = r * r\n    return \n"


def send(client: LanguageClient, method: str, params) -> tuple[str, asyncio.Future]:
    msg_id = str(uuid.uuid4())
    return msg_id, asyncio.wrap_future(client.protocol.send_request(method, params, msg_id=msg_id))


async def test_edit_racing_a_command_is_never_applied(shared: LanguageClient):
    uri = "file:///race-command.py"
    open_doc(shared, uri, TEXT)
    before = len(shared.rec.edits)
    _, pending = send(shared, t.WORKSPACE_EXECUTE_COMMAND, t.ExecuteCommandParams(
        command="dgLsp.fillSelection", arguments=[{"uri": uri, "version": 1, "range": {
            "start": {"line": 1, "character": 12}, "end": {"line": 1, "character": 17}}}]))
    # The user types while the engine works: version 2 exists before the fill is done.
    change_doc(shared, uri, 2, t.Range(start=pos(2, 11), end=pos(2, 11)), "r")
    with pytest.raises(JsonRpcException, match="changed while filling|changed"):
        await pending
    assert len(shared.rec.edits) == before  # no workspace/applyEdit was sent


async def test_edit_racing_inline_completion_drops_stale_result(shared: LanguageClient):
    uri = "file:///race-inline.py"
    open_doc(shared, uri, TEXT)
    _, pending = send(shared, t.TEXT_DOCUMENT_INLINE_COMPLETION, t.InlineCompletionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=pos(2, 11),
        context=t.InlineCompletionContext(trigger_kind=t.InlineCompletionTriggerKind.Invoked)))
    change_doc(shared, uri, 2, t.Range(start=pos(0, 0), end=pos(0, 0)), "# moved\n")
    result = await pending
    assert not result.items  # computed for version 1, the document is at version 2
    fresh = await inline(shared, uri, pos(3, 11))
    assert fresh.items and fresh.items[0].range.start == pos(3, 11)


async def test_cancel_request_answers_once_and_server_recovers(shared: LanguageClient):
    uri = "file:///cancel.py"
    open_doc(shared, uri, TEXT.replace("value", "cancelled"))  # unique text: no cached result
    msg_id, pending = send(shared, t.TEXT_DOCUMENT_INLINE_COMPLETION, t.InlineCompletionParams(
        text_document=t.TextDocumentIdentifier(uri=uri), position=pos(2, 11),
        context=t.InlineCompletionContext(trigger_kind=t.InlineCompletionTriggerKind.Invoked)))
    shared.protocol.notify(t.CANCEL_REQUEST, t.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as err:
        await pending
    assert err.value.code == -32800  # RequestCancelled
    again = await inline(shared, uri, pos(2, 11))
    assert again.items


async def test_cancel_a_command(shared: LanguageClient):
    uri = "file:///cancel-command.py"
    open_doc(shared, uri, TEXT.replace("value", "command"))
    before = len(shared.rec.edits)
    msg_id, pending = send(shared, t.WORKSPACE_EXECUTE_COMMAND, t.ExecuteCommandParams(
        command="dgLsp.fixLine", arguments=[{"uri": uri, "version": 1, "line": 1}]))
    shared.protocol.notify(t.CANCEL_REQUEST, t.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as err:
        await pending
    assert err.value.code == -32800
    # The engine job was stopped too: the next command runs and is applied normally.
    out = await shared.workspace_execute_command_async(t.ExecuteCommandParams(
        command="dgLsp.fixLine", arguments=[{"uri": uri, "version": 1, "line": 1}]))
    assert out["applied"] is True and len(shared.rec.edits) == before + 1


async def test_newer_request_supersedes_older(shared: LanguageClient):
    uri = "file:///supersede.py"
    open_doc(shared, uri, TEXT.replace("value", "superseded"))
    # A long debounce keeps the first automatic request pending when the second arrives.
    shared.workspace_did_change_configuration(t.DidChangeConfigurationParams(settings={"dgLsp": {"debounceMs": 1500}}))
    try:
        params = t.InlineCompletionParams(
            text_document=t.TextDocumentIdentifier(uri=uri), position=pos(2, 11),
            context=t.InlineCompletionContext(trigger_kind=t.InlineCompletionTriggerKind.Automatic))
        _, first = send(shared, t.TEXT_DOCUMENT_INLINE_COMPLETION, params)
        _, second = send(shared, t.TEXT_DOCUMENT_INLINE_COMPLETION, params)
        first_result, second_result = await first, await second
    finally:
        shared.workspace_did_change_configuration(t.DidChangeConfigurationParams(settings={"dgLsp": {"debounceMs": 0}}))
    assert not first_result.items and second_result.items
