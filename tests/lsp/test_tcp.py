"""`dg-lsp serve --tcp`: a raw JSON-RPC client over a socket (no LSP library between us and the wire)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _send(sock: socket.socket, msg: dict) -> None:
    body = json.dumps(msg).encode()
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _read(sock: socket.socket, buf: bytearray) -> dict:
    while True:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            headers = dict(line.split(": ", 1) for line in buf[:head_end].decode().split("\r\n"))
            n = int(headers["Content-Length"])
            if len(buf) >= head_end + 4 + n:
                body = bytes(buf[head_end + 4: head_end + 4 + n])
                del buf[: head_end + 4 + n]
                return json.loads(body)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk


def _response(sock: socket.socket, buf: bytearray, rid: int, timeout: float = 120) -> dict:
    sock.settimeout(timeout)
    while True:
        msg = _read(sock, buf)
        if msg.get("id") == rid and "method" not in msg:
            return msg


@pytest.fixture
def tcp_server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dg_lsp.cli", "serve", "--tcp", "--port", str(port),
                             "--model", "random:tiny", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "DG_LSP_THREADS": "1"})
    deadline = time.time() + 60
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise AssertionError(f"server did not listen: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield proc, sock, port
    sock.close()
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def test_tcp_serves_a_session_on_localhost(tcp_server):
    proc, sock, port = tcp_server
    buf = bytearray()
    _send(sock, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    caps = _response(sock, buf, 1)["result"]["capabilities"]
    assert caps.get("inlineCompletionProvider") is not None and caps.get("codeActionProvider")
    _send(sock, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    uri = "file:///tcp/a.py"
    _send(sock, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": "def add(a, b):\n    return \n"}}})
    # The engine loads in the background; ask until it answers with a real (non-empty-list) result
    # or the model is ready and answered (random weights may legitimately suggest nothing).
    params = {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11},
              "context": {"triggerKind": 1}}
    answered = None
    for rid in range(2, 200):
        _send(sock, {"jsonrpc": "2.0", "id": rid, "method": "textDocument/inlineCompletion", "params": params})
        res = _response(sock, buf, rid)
        assert "error" not in res, res
        if res["result"] and res["result"].get("items") is not None and res["result"]["items"]:
            answered = res["result"]["items"][0]
            break
        time.sleep(0.25)
    assert answered is not None and isinstance(answered["insertText"], str)
    # Bad input on the wire: an unknown method is an error answer, and the server keeps serving.
    _send(sock, {"jsonrpc": "2.0", "id": 500, "method": "dgLsp/noSuchMethod", "params": {}})
    assert "error" in _response(sock, buf, 500)
    _send(sock, {"jsonrpc": "2.0", "id": 501, "method": "shutdown", "params": None})
    assert _response(sock, buf, 501).get("result") is None
    _send(sock, {"jsonrpc": "2.0", "method": "exit", "params": None})
    assert proc.wait(30) == 0


def _other_ipv4() -> str | None:
    """This machine's address on its default route (no packet is sent: UDP connect only routes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


def test_tcp_binds_loopback_only(tcp_server):
    _, _, port = tcp_server
    addr = _other_ipv4()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with pytest.raises(OSError):  # the same port on another interface of this machine is refused
        socket.create_connection((addr, port), timeout=1).close()
