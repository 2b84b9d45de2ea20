"""`initialize` must not wait for heavy imports: the server module, the CLI and everything they
import at module level stay clear of torch, transformers, the engine runtime and tree-sitter, and
`dg_lsp.server` (which answers `initialize`) clear of pygls too."""
import subprocess
import sys

HEAVY = ("torch", "transformers", "engine.runtime", "tree_sitter", "tree_sitter_python", "numpy")


def loaded_after(code: str, modules: tuple[str, ...]) -> str:
    probe = code + f"\nimport sys\nprint(','.join(m for m in {modules!r} if m in sys.modules))\n"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


def test_language_server_imports_nothing_heavy():
    assert loaded_after("from dg_lsp.server import create_server\ncreate_server('random:tiny', None)", HEAVY) == ""


def test_fast_start_path_imports_only_stdlib():
    assert loaded_after("import dg_lsp.cli, dg_lsp.server", HEAVY + ("pygls", "lsprotocol", "engine.api")) == ""
