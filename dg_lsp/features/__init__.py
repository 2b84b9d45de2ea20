"""One module per LSP method; `register_all` wires them into a server."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dg_lsp.language_server import DgServer


def register_all(server: DgServer) -> None:
    from dg_lsp.features import code_actions, completion, inline_completion, lifecycle, sync

    for module in (lifecycle, sync, inline_completion, completion, code_actions):
        module.register(server)
