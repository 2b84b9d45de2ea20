"""Every feature end to end against one shared server running `random:tiny` (plumbing, not
quality: the tiny random model writes garbage, so tests check where and how text lands)."""
from __future__ import annotations

import pytest
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from lsp_harness import change_doc, command, inline, open_doc, pos, raw_request
from lsp_harness import shared  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio(loop_scope="module")
COMMANDS = {"dgLsp.fillSelection", "dgLsp.fixLine", "dgLsp.fillHoles", "dgLsp.fillRanges", "dgLsp.applyAlternative"}


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def last_edit(client: LanguageClient) -> t.TextDocumentEdit:
    changes = client.rec.edits[-1].edit.document_changes
    assert len(changes) == 1
    return changes[0]


def rng(a: tuple[int, int], b: tuple[int, int]) -> dict:
    return {"start": {"line": a[0], "character": a[1]}, "end": {"line": b[0], "character": b[1]}}


async def test_capabilities_progress_and_status(shared: LanguageClient):
    caps = shared.init_result.capabilities
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None
    assert set(caps.execute_command_provider.commands) == COMMANDS
    assert "quickfix.dgLsp.fixLine" in caps.code_action_provider.code_action_kinds
    assert caps.text_document_sync.change == t.TextDocumentSyncKind.Incremental
    ready = [s for s in shared.rec.statuses if s["state"] == "ready"][-1]
    assert ready["model"] == "random:tiny" and ready["device"] == "cpu"
    assert shared.rec.statuses[0]["state"] == "loading"
    reports = [v for values in shared.progress_reports.values() for v in values]
    assert isinstance(reports[0], t.WorkDoneProgressBegin) and isinstance(reports[-1], t.WorkDoneProgressEnd)


async def test_inline_completion_single_line(shared: LanguageClient):
    uri = "file:///inline.py"
    open_doc(shared, uri, "import math\n\ndef area(r):\n    return \n")
    result = await inline(shared, uri, pos(3, 11))
    assert 1 <= len(result.items) <= 2  # candidates = 2 on explicit invoke
    for item in result.items:
        assert item.range == t.Range(start=pos(3, 11), end=pos(3, 11))
        assert "\n" not in item.insert_text and item.insert_text.strip()
    auto = await inline(shared, uri, pos(3, 11), invoked=False)
    assert len(auto.items) == 1


async def test_typed_through_serves_rest_without_engine(shared: LanguageClient):
    uri = "file:///typed.py"
    text = "def area(r):\n    return \n"
    open_doc(shared, uri, text)
    first = await inline(shared, uri, pos(1, 11), invoked=False)
    fill = first.items[0].insert_text
    assert len(fill) >= 2
    busy_before = sum(s["state"] == "busy" for s in shared.rec.statuses)
    typed = fill[0]
    change_doc(shared, uri, 2, t.Range(start=pos(1, 11), end=pos(1, 11)), typed)
    second = await inline(shared, uri, pos(1, 11 + utf16(typed)), invoked=False)
    assert [i.insert_text for i in second.items] == [fill[1:]]
    assert sum(s["state"] == "busy" for s in shared.rec.statuses) == busy_before  # no engine run


async def test_utf16_positions_with_emoji_and_cjk(shared: LanguageClient):
    uri = "file:///unicode.py"
    line = 'label = "😀漢字"; value = compute(1)'
    open_doc(shared, uri, f"{line}\nprint(label)\n")
    col = utf16(line)
    result = await inline(shared, uri, pos(0, col))
    assert all(i.range.start == pos(0, col) for i in result.items)
    start = utf16(line[:line.index("compute")])
    out = await command(shared, "dgLsp.fillSelection", {"uri": uri, "version": 1, "range": rng((0, start), (0, col))})
    assert out["applied"] is True
    edit = last_edit(shared)
    assert edit.text_document.version == 1
    assert edit.edits[0].range == t.Range(start=pos(0, start), end=pos(0, col))


async def test_crlf_document(shared: LanguageClient):
    uri = "file:///crlf.py"
    open_doc(shared, uri, "def f(x):\r\n    y = x +\r\n    return y\r\n")
    out = await command(shared, "dgLsp.fixLine", {"uri": uri, "version": 1, "position": {"line": 1, "character": 6}})
    assert out["applied"] is True
    edit = last_edit(shared).edits[0]
    # The statement `y = x +` does not parse; the line without its indentation and CRLF is refilled.
    assert edit.range == t.Range(start=pos(1, 4), end=pos(1, 11))
    assert "\r" not in edit.new_text.replace("\r\n", "") and "\n" not in edit.new_text.replace("\r\n", "")
    result = await inline(shared, uri, pos(2, 12))
    assert all(i.range.start == pos(2, 12) for i in result.items)


async def test_fill_selection_snaps_ragged_selection(shared: LanguageClient):
    uri = "file:///snap.py"
    open_doc(shared, uri, "def f(a, b):\n    total = a + b * 2\n    return total\n")
    # "otal = a +" cuts an identifier and ends on an operator: snapped to the whole statement.
    out = await command(shared, "dgLsp.fillSelection", {"uri": uri, "version": 1, "range": rng((1, 5), (1, 15))})
    assert out["edits"][0]["range"] == rng((1, 4), (1, 21))
    assert last_edit(shared).edits[0].range == t.Range(start=pos(1, 4), end=pos(1, 21))


async def test_fix_line_uses_diagnostic_range(shared: LanguageClient):
    uri = "file:///diag.py"
    open_doc(shared, uri, "def f(a):\n    value = compute(a) + offset\n    return value\n")
    out = await command(shared, "dgLsp.fixLine", {"uri": uri, "version": 1, "position": {"line": 1, "character": 4},
                                                 "range": rng((1, 25), (1, 31))})
    assert out["edits"][0]["range"] == rng((1, 25), (1, 31))  # `offset`, not the whole statement


async def test_fill_holes_jointly_in_enclosing_scope(shared: LanguageClient):
    uri = "file:///holes.py"
    text = "def f(a):\n    x = ???\n    y = ???\n    return x + y\n\ndef g():\n    return ???\n"
    open_doc(shared, uri, text)
    before = len(shared.rec.edits)
    out = await command(shared, "dgLsp.fillHoles", {"uri": uri, "version": 1, "position": {"line": 1, "character": 4}})
    assert len(shared.rec.edits) == before + 1  # one request, one edit for both holes
    ranges = [e.range for e in last_edit(shared).edits]
    assert ranges == [t.Range(start=pos(1, 8), end=pos(1, 11)), t.Range(start=pos(2, 8), end=pos(2, 11))]
    assert out["applied"] is True
    whole = await command(shared, "dgLsp.fillHoles", {"uri": uri, "version": 1})
    assert len(whole["edits"]) == 3


async def test_fill_ranges_jointly(shared: LanguageClient):
    uri = "file:///ranges.py"
    open_doc(shared, uri, "a = 1\nb = 2\nc = 3\n")
    out = await command(shared, "dgLsp.fillRanges", {"uri": uri, "version": 1,
                                                     "ranges": [rng((2, 4), (2, 5)), rng((0, 4), (0, 5))]})
    assert [e["range"] for e in out["edits"]] == [rng((0, 4), (0, 5)), rng((2, 4), (2, 5))]
    assert len(last_edit(shared).edits) == 2
    with pytest.raises(JsonRpcException, match="overlap"):
        await command(shared, "dgLsp.fillRanges", {"uri": uri, "ranges": [rng((0, 0), (0, 3)), rng((0, 2), (0, 5))]})


async def test_code_actions_and_alternatives(shared: LanguageClient):
    uri = "file:///actions.py"
    open_doc(shared, uri, "def f(a):\n    x = ???\n    return a + x\n")
    params = t.CodeActionParams(text_document=t.TextDocumentIdentifier(uri=uri),
                                range=t.Range(start=pos(2, 11), end=pos(2, 16)),
                                context=t.CodeActionContext(diagnostics=[], trigger_kind=t.CodeActionTriggerKind.Automatic))
    actions = await raw_request(shared, "textDocument/codeAction", params)
    by_command = {a["command"]["command"]: a for a in actions}
    assert set(by_command) == {"dgLsp.fillSelection", "dgLsp.fixLine", "dgLsp.fillHoles"}
    assert by_command["dgLsp.fillHoles"]["title"] == "Fill 1 hole (dg-lsp)"
    assert by_command["dgLsp.fillSelection"]["command"]["arguments"] == [
        {"uri": uri, "version": 1, "range": rng((2, 11), (2, 16))}]
    only = t.CodeActionParams(text_document=params.text_document, range=params.range,
                              context=t.CodeActionContext(diagnostics=[], only=["quickfix"]))
    assert [a["kind"] for a in await raw_request(shared, "textDocument/codeAction", only)] == ["quickfix.dgLsp.fixLine"]
    invoked = t.CodeActionParams(text_document=params.text_document, range=params.range,
                                 context=t.CodeActionContext(diagnostics=[], trigger_kind=t.CodeActionTriggerKind.Invoked))
    alts = [a for a in await raw_request(shared, "textDocument/codeAction", invoked)
            if a["command"]["command"] == "dgLsp.applyAlternative"]
    assert 1 <= len(alts) <= 3
    arg = alts[0]["command"]["arguments"][0]
    assert arg["version"] == 1 and arg["edits"][0]["range"] == rng((2, 11), (2, 16))
    out = await command(shared, "dgLsp.applyAlternative", arg)
    assert out["applied"] is True and last_edit(shared).edits[0].new_text == arg["edits"][0]["newText"]


async def test_completion_items_switch(shared: LanguageClient):
    uri = "file:///complete.py"
    open_doc(shared, uri, "def area(r):\n    return math.pi\n")
    params = t.CompletionParams(text_document=t.TextDocumentIdentifier(uri=uri), position=pos(1, 18))
    off = await shared.text_document_completion_async(params)
    assert not off.items  # completionItems is off by default
    shared.workspace_did_change_configuration(t.DidChangeConfigurationParams(settings={"dgLsp": {"completionItems": True}}))
    on = await shared.text_document_completion_async(params)
    assert len(on.items) == 1
    item = on.items[0]
    assert item.text_edit.range == t.Range(start=pos(1, 16), end=pos(1, 18))  # replaces the word `pi`
    assert item.text_edit.new_text.startswith("pi") and item.filter_text == item.text_edit.new_text
    shared.workspace_did_change_configuration(t.DidChangeConfigurationParams(settings={"dgLsp": {"completionItems": False}}))


async def test_bad_input_errors_and_server_keeps_serving(shared: LanguageClient):
    uri = "file:///bad.py"
    open_doc(shared, uri, "x = 1\n")
    with pytest.raises(JsonRpcException, match="past the end"):
        await inline(shared, uri, pos(40, 0))
    with pytest.raises(JsonRpcException, match="not open"):
        await command(shared, "dgLsp.fillSelection", {"uri": "file:///never.py", "range": rng((0, 0), (0, 1))})
    with pytest.raises(JsonRpcException, match="must be a Position"):
        await command(shared, "dgLsp.fillSelection", {"uri": uri, "range": {"start": 3}})
    with pytest.raises(JsonRpcException, match="one argument"):
        await shared.workspace_execute_command_async(t.ExecuteCommandParams(command="dgLsp.fixLine", arguments=[]))
    with pytest.raises(JsonRpcException, match="changed"):
        await command(shared, "dgLsp.fixLine", {"uri": uri, "version": 7, "line": 0})
    empty = await inline(shared, "file:///not-open.py", pos(0, 0))
    assert not empty.items
    binary = "file:///blob.bin"
    open_doc(shared, binary, "\x00\x01\x02garbage\x00", language="plaintext")
    assert not (await inline(shared, binary, pos(0, 3))).items
    unknown = "file:///notes.cob"
    open_doc(shared, unknown, "IDENTIFICATION DIVISION.\nPROGRAM-ID. HELLO.\n", language="cobol")
    assert (await inline(shared, unknown, pos(1, 18))).items  # line windows still fill
    assert (await inline(shared, uri, pos(0, 5))).items  # still serving


async def test_client_refusing_edit_reports_not_applied(shared: LanguageClient):
    uri = "file:///refuse.py"
    open_doc(shared, uri, "x = 1\n")
    shared.rec.apply_result = False
    try:
        out = await command(shared, "dgLsp.applyAlternative",
                            {"uri": uri, "version": 1, "edits": [{"range": rng((0, 4), (0, 5)), "newText": "2"}]})
    finally:
        shared.rec.apply_result = True
    assert out["applied"] is False and out["failureReason"] == "refused by test"
