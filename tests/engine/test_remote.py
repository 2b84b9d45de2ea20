"""The remote engine against a real local HTTP server speaking /v1/completions."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from engine.api import Hole, InfillError, InfillRequest, load_engine


class Handler(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if body.get("prompt") == "fail":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        choices = [{"index": i, "text": f"x + {i}", "finish_reason": "stop"} for i in range(body.get("n", 1))]
        out = json.dumps({"choices": choices, "usage": {"prompt_tokens": 7, "completion_tokens": 3}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.seen.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_remote_fill_with_suffix_field(server):
    eng = load_engine(server, model="m", api_key="k")
    res = eng.infill(InfillRequest(["y = ", Hole(16, single_line=True), "\nprint(y)\n"], candidates=2))
    assert res.fills == ["x + 0\n"] and [c.fills for c in res.candidates][1] == ["x + 1\n"]
    sent = Handler.seen[-1]
    assert sent["path"] == "/v1/completions" and sent["auth"] == "Bearer k"
    assert sent["body"]["prompt"] == "y = " and sent["body"]["suffix"] == "\nprint(y)\n"
    assert sent["body"]["stop"] == ["\n"] and sent["body"]["n"] == 2 and sent["body"]["model"] == "m"


def test_remote_fim_template(server):
    eng = load_engine(server + "/v1", fim_template="<P>{prefix}<S>{suffix}<M>")
    eng.infill(InfillRequest(["a", Hole(8), "b"]))
    assert Handler.seen[-1]["body"]["prompt"] == "<P>a<S>b<M>" and "suffix" not in Handler.seen[-1]["body"]


def test_remote_errors_are_clear(server):
    eng = load_engine(server)
    with pytest.raises(InfillError, match="answered 500"):
        eng.infill(InfillRequest(["fail", Hole(8), ""]))
    with pytest.raises(InfillError, match="one hole"):
        eng.infill(InfillRequest(["a", Hole(8), "b", Hole(8), "c"]))
    with pytest.raises(InfillError, match="unreachable"):
        load_engine("http://127.0.0.1:9", timeout_s=2).infill(InfillRequest(["a", Hole(8), "b"]))
