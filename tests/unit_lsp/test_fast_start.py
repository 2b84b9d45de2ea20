"""The fast `initialize` answer must equal what pygls computes for this server."""
import asyncio
import io

import pytest
from lsprotocol import types as t

from dg_lsp import server
from dg_lsp.language_server import create_server

CLIENTS = [
    {},
    {"general": {"positionEncodings": ["utf-8", "utf-16"]}},
    {"general": {"positionEncodings": ["utf-32"]}},
    {"general": {"positionEncodings": ["klingon"]}},
    {"textDocument": {"synchronization": {"willSave": True, "willSaveWaitUntil": False, "didSave": True},
                      "inlineCompletion": {}}, "window": {"workDoneProgress": True},
     "workspace": {"configuration": True, "applyEdit": True, "workspaceFolders": True}},
]


def computed(params: dict) -> dict:
    srv = create_server("random:tiny", None)
    proto = srv.protocol
    init = proto._converter.structure(params, t.InitializeParams)

    async def drive():
        gen, value = proto.lsp_initialize(init), None
        try:
            while True:
                handler, args, kwargs = gen.send(value)
                value = handler(*args, **(kwargs or {}))
        except StopIteration as stop:
            return stop.value

    try:
        return proto._converter.unstructure(asyncio.run(drive()))
    finally:
        srv.scheduler.close()


@pytest.mark.parametrize("caps", CLIENTS)
def test_static_capabilities_match_pygls(caps):
    params = {"processId": None, "rootUri": None, "capabilities": caps}
    assert server.static_capabilities(params) == computed(params)


def test_replay_reader_and_message_framing():
    first = server.frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"x": "😀"}})
    second = server.frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    stream = io.BytesIO(first + second)
    raw, msg = server.read_message(stream)
    assert raw == first and msg["params"] == {"x": "😀"}
    replay = server.ReplayReader(raw, stream)
    again, msg2 = server.read_message(replay)
    assert again == first and msg2 == msg
    assert server.read_message(replay)[1]["method"] == "initialized"
    assert server.read_message(replay) == (b"", None)


def test_drop_first_response_only():
    out = io.BytesIO()
    writer = server.DropFirstResponse(out, 7)
    note = server.frame({"jsonrpc": "2.0", "method": "window/logMessage", "params": {}})
    writer.write(note)
    writer.write(server.frame({"jsonrpc": "2.0", "id": 7, "result": {}}))  # pygls' duplicate answer
    later = server.frame({"jsonrpc": "2.0", "id": 7, "result": None})  # ids may be reused later
    writer.write(later)
    assert out.getvalue() == note + later
