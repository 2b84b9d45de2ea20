"""Builds the VS Code extension the way CI does (editors/vscode/build.sh: npm ci, tsc, node --test,
vsce package) and checks the .vsix holds what VS Code needs to run it. VS Code itself cannot be
launched here; the extension's own logic is covered by the node unit tests the script runs."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node/npm not installed"
)


@pytest.mark.timeout(600)
def test_build_script_compiles_tests_and_packages() -> None:
    proc = subprocess.run(["bash", str(VSCODE / "build.sh")], capture_output=True, text=True, timeout=580)
    assert proc.returncode == 0, f"build.sh failed\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert "# fail 0" in proc.stdout, proc.stdout[-2000:]

    version = json.loads((VSCODE / "package.json").read_text())["version"]
    vsix = VSCODE / f"dg-lsp-{version}.vsix"
    assert vsix.is_file()
    with zipfile.ZipFile(vsix) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("extension/package.json"))
    assert "extension/out/extension.js" in names
    assert "extension/node_modules/vscode-languageclient/lib/node/main.js" in names
    assert not any(n.startswith("extension/src/") or n.startswith("extension/out/test/") for n in names)
    assert manifest["main"] == "./out/extension.js"


def test_contributed_commands_are_registered_by_the_extension() -> None:
    """Every command in package.json must be registered in src/extension.ts, and every registered one
    contributed (a command missing from either side is invisible or dead in VS Code)."""
    manifest = json.loads((VSCODE / "package.json").read_text())
    contributed = {c["command"] for c in manifest["contributes"]["commands"]}
    source = (VSCODE / "src" / "extension.ts").read_text()
    registered = set(re.findall(r'registerCommand\(\s*"([^"]+)"', source))
    assert contributed == registered
    # Client command ids must not collide with the server's own (the language client registers those).
    assert not any(c.startswith("dgLsp.") for c in contributed)


def test_contributed_settings_match_the_server() -> None:
    """package.json contributes exactly the server's settings (plus client-only `server.*`/`trace.*`),
    with the server's defaults, so what VS Code shows is what the server does."""
    from dg_lsp.options import Settings, to_wire

    manifest = json.loads((VSCODE / "package.json").read_text())
    props = manifest["contributes"]["configuration"]["properties"]
    server = {k: (list(v) if isinstance(v, tuple) else v) for k, v in to_wire(Settings()).items()}
    contributed = {k.removeprefix("dgLsp."): p.get("default") for k, p in props.items()}
    client_only = {"server.path", "server.args", "trace.server"}
    assert set(contributed) - client_only == set(server)
    for key, default in server.items():
        assert contributed[key] == default, key


def test_command_arguments_match_the_server_contract() -> None:
    """The extension's executeCommand payloads (compiled out/commands.js, run by node) parse with the
    server's own argument readers (dg_lsp/features/code_actions.py)."""
    out_js = VSCODE / "out" / "commands.js"
    if not out_js.is_file():
        proc = subprocess.run(["npx", "--no-install", "tsc", "-p", "."], cwd=VSCODE, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    script = """
      const c = require('./out/commands.js');
      const sel = [{start: {line: 3, character: 8}, end: {line: 1, character: 2}},
                   {start: {line: 5, character: 0}, end: {line: 5, character: 0}}];
      console.log(JSON.stringify([
        c.fillRangesParams('file:///a.py', 4, sel),
        c.fixLineParams('file:///a.py', 4, {line: 2, character: 7}),
        c.fillHolesParams('file:///a.py', 4),
      ]));
    """
    proc = subprocess.run(["node", "-e", script], cwd=VSCODE, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    fill_ranges, fix_line, fill_holes = json.loads(proc.stdout)

    from dg_lsp.features import code_actions as ca

    assert (fill_ranges["command"], fix_line["command"], fill_holes["command"]) == (ca.FILL_RANGES, ca.FIX_LINE, ca.FILL_HOLES)
    for params in (fill_ranges, fix_line, fill_holes):
        assert len(params["arguments"]) == 1  # the server takes exactly one object
        arg = params["arguments"][0]
        assert arg["uri"] == "file:///a.py" and arg["version"] == 4
    ranges = [ca._range(r, f"ranges[{i}]") for i, r in enumerate(fill_ranges["arguments"][0]["ranges"])]
    assert [(r.start.line, r.start.character, r.end.line, r.end.character) for r in ranges] == [(1, 2, 3, 8), (5, 0, 5, 0)]
    p = ca._position(fix_line["arguments"][0]["position"], "position")
    assert (p.line, p.character) == (2, 7) and fix_line["arguments"][0]["line"] == 2


def test_language_client_handshake_with_the_real_server(tmp_path) -> None:
    """vscode-languageclient 11, as the extension configures it (VS Code API stubbed), starts the real
    server: `initialize` succeeds, the server's commands are registered, and its dgLsp/status
    notifications reach the status bar item (out/test/load.test.js with DG_LSP_SERVER_PATH)."""
    load_test = VSCODE / "out" / "test" / "load.test.js"
    if not load_test.is_file():
        proc = subprocess.run(["npx", "--no-install", "tsc", "-p", "."], cwd=VSCODE, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    log = tmp_path / "server.log"
    env = dict(os.environ)
    env.update({
        "DG_LSP_SERVER_PATH": sys.executable,
        "DG_LSP_SERVER_ARGS": json.dumps(["-m", "dg_lsp.cli", "serve", "--model", "random:tiny", "--device", "cpu",
                                          "--log-file", str(log)]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
    })
    proc = subprocess.run(["node", "--test", str(load_test)], cwd=VSCODE, env=env, capture_output=True, text=True, timeout=280)
    server_log = log.read_text(errors="replace")[-3000:] if log.exists() else "(no server log)"
    assert proc.returncode == 0 and "# fail 0" in proc.stdout, f"{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}\n{server_log}"
