"""LSP latency measured through a real client over stdio, the way an editor sees it.

    python benchmarks/lsp_latency.py [--model embedded] [--points 30] [--spawns 5] [--file F]

Prints one table: `initialize` (spawn → InitializeResult), inline completion cold (a document the
engine has not seen; also split by whether a suggestion came back, since an empty fill takes fewer
denoising steps), warm (the same document after a keystroke: engine context cache reused,
result cache missed), typed-through (the user typed the start of the shown suggestion) and code
action latency (listing, and an explicit invoke that computes alternatives). Debounce is 0 so the
numbers are the server's own work; an editor adds its `debounceMs` on top.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as t
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("dg-lsp-bench", "0")
        self.ready = asyncio.Event()
        self.state = ""

        @self.feature("dgLsp/status")
        def status(params) -> None:
            self.state = getattr(params, "state", None) or params["state"]
            if self.state in {"ready", "error"}:
                self.ready.set()

        @self.feature(t.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params) -> None:
            return None

        @self.feature(t.WORKSPACE_CONFIGURATION)
        def configuration(params) -> list:
            return [None for _ in params.items]


def server_cmd(model: str) -> list[str]:
    return [sys.executable, "-m", "dg_lsp.cli", "serve", "--model", model]


def capabilities() -> t.ClientCapabilities:
    return t.ClientCapabilities(window=t.WindowClientCapabilities(work_done_progress=True),
                                workspace=t.WorkspaceClientCapabilities(configuration=True))


async def spawn(model: str, options: dict) -> tuple[Client, float]:
    client = Client()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    await client.start_io(*server_cmd(model), env=env)
    await client.initialize_async(t.InitializeParams(capabilities=capabilities(), initialization_options=options))
    ms = (time.perf_counter() - t0) * 1000
    client.initialized(t.InitializedParams())
    return client, ms


async def stop(client: Client) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


def sample_points(text: str, n: int) -> list[tuple[int, int]]:
    """(line, column) cut points: the middle of non-trivial code lines, spread over the file."""
    lines = text.split("\n")
    good = [i for i, l in enumerate(lines) if len(l.strip()) >= 16 and not l.strip().startswith(("#", '"'))]
    step = max(1, len(good) // n)
    points = []
    for i in good[::step][:n]:
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        points.append((i, indent + (len(line) - indent) // 2))
    return points


async def timed(coro) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = await coro
    return (time.perf_counter() - t0) * 1000, result


def inline_params(uri: str, line: int, col: int) -> t.InlineCompletionParams:
    return t.InlineCompletionParams(text_document=t.TextDocumentIdentifier(uri=uri), position=t.Position(line=line, character=col),
                                    context=t.InlineCompletionContext(trigger_kind=t.InlineCompletionTriggerKind.Automatic))


async def run(args) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {k: [] for k in ["initialize", "cold", "cold, non-empty", "cold, empty", "warm",
                                                   "typed-through", "code action list", "code action invoke"]}
    options = {"debounceMs": 0, "candidates": 3}
    for _ in range(args.spawns - 1):
        client, ms = await spawn(args.model, options)
        rows["initialize"].append(ms)
        await stop(client)
    client, ms = await spawn(args.model, options)
    rows["initialize"].append(ms)
    await asyncio.wait_for(client.ready.wait(), 600)
    if client.state != "ready":
        raise SystemExit(f"engine did not load: {client.state}")
    text = Path(args.file).read_text()
    lines = text.split("\n")
    empty = 0
    for k, (line, col) in enumerate(sample_points(text, args.points)):
        uri = f"file:///bench/{k}.py"
        doc = "\n".join(lines[:line] + [lines[line][:col]] + lines[line + 1:])
        client.text_document_did_open(t.DidOpenTextDocumentParams(
            text_document=t.TextDocumentItem(uri=uri, language_id="python", version=1, text=doc)))
        ms, res = await timed(client.text_document_inline_completion_async(inline_params(uri, line, col)))
        rows["cold"].append(ms)
        # an empty answer costs fewer denoising steps: report the two apart
        rows["cold, non-empty" if res and res.items and res.items[0].insert_text else "cold, empty"].append(ms)
        # A keystroke that is not the suggestion (the next character of the real line): warm.
        typed = lines[line][col] if col < len(lines[line]) else " "
        client.text_document_did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[t.TextDocumentContentChangePartial(range=t.Range(
                start=t.Position(line=line, character=utf16(lines[line][:col])),
                end=t.Position(line=line, character=utf16(lines[line][:col]))), text=typed)]))
        col2 = col + 1
        ms, res = await timed(client.text_document_inline_completion_async(inline_params(uri, line, utf16(lines[line][:col] + typed))))
        rows["warm"].append(ms)
        if res.items and len(res.items[0].insert_text) > 1:
            first = res.items[0].insert_text[0]
            at = utf16(lines[line][:col] + typed)
            client.text_document_did_change(t.DidChangeTextDocumentParams(
                text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=3),
                content_changes=[t.TextDocumentContentChangePartial(range=t.Range(
                    start=t.Position(line=line, character=at), end=t.Position(line=line, character=at)), text=first)]))
            ms, _ = await timed(client.text_document_inline_completion_async(inline_params(uri, line, at + utf16(first))))
            rows["typed-through"].append(ms)
        else:
            empty += 1
        rng = t.Range(start=t.Position(line=line, character=0), end=t.Position(line=line, character=col2))
        for kind, key in [(t.CodeActionTriggerKind.Automatic, "code action list"), (t.CodeActionTriggerKind.Invoked, "code action invoke")]:
            ms, _ = await timed(client.protocol.send_request_async(t.TEXT_DOCUMENT_CODE_ACTION, t.CodeActionParams(
                text_document=t.TextDocumentIdentifier(uri=uri), range=rng,
                context=t.CodeActionContext(diagnostics=[], trigger_kind=kind))))
            rows[key].append(ms)
        client.text_document_did_close(t.DidCloseTextDocumentParams(text_document=t.TextDocumentIdentifier(uri=uri)))
    await stop(client)
    if empty:
        print(f"({empty} point(s) had no suggestion to type through)")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="embedded")
    p.add_argument("--points", type=int, default=30)
    p.add_argument("--spawns", type=int, default=5, help="server starts measured for initialize")
    p.add_argument("--file", default=str(ROOT / "dg_lsp" / "context.py"), help="a Python file to complete in")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args))
    print(f"\nLSP latency, model {args.model}, {args.points} points in {Path(args.file).name}, debounce 0 (ms)\n")
    print(f"| {'measure':<20} | {'n':>3} | {'p50':>8} | {'p95':>8} | {'min':>8} |")
    print(f"|{'-' * 22}|{'-' * 5}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for name, values in rows.items():
        if values:
            print(f"| {name:<20} | {len(values):>3} | {statistics.median(values):>8.1f} | {pct(values, 0.95):>8.1f} "
                  f"| {min(values):>8.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
