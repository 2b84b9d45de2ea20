"""`initialize` must not wait for heavy imports: the server module, the CLI and everything they
import at module level stay clear of torch, transformers, the engine runtime and tree-sitter."""
import subprocess
import sys

HEAVY = ("torch", "transformers", "engine.runtime", "tree_sitter", "tree_sitter_python", "numpy")


def test_server_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from dg_lsp.cli import build_parser\n"
        "from dg_lsp.server import create_server\n"
        "create_server('random:tiny', None)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
