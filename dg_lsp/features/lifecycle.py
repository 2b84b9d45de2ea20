"""initialize / initialized / shutdown / didChangeConfiguration: settings and engine loading.

The engine is loaded after `initialized` (never before `initialize` is answered) on the worker
thread, reported as work-done progress (token created with `window/workDoneProgress/create` when
the client supports it) and as `dgLsp/status` notifications.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from dg_lsp import options

if TYPE_CHECKING:
    from dg_lsp.language_server import DgServer

log = logging.getLogger(__name__)
CONFIG_TIMEOUT_S = 2.0  # a client that never answers configuration/progress must not block loading


def apply_settings(ls: DgServer, raw: Any, *, base: options.Settings | None = None) -> bool:
    """Merge user settings; returns True when the engine must be reloaded."""
    parsed = options.parse(raw, base or ls.settings)
    for problem in parsed.problems:
        ls.tell(problem)
    new = options.with_cli(parsed.settings, ls.cli_model, ls.cli_device, ls.cli_model_options)
    engine_keys = ("model", "device", "trust_remote_code", "model_options")
    reload = [getattr(new, k) for k in engine_keys] != [getattr(ls.settings, k) for k in engine_keys]
    ls.settings = new
    return reload


async def pull_configuration(ls: DgServer) -> Any:
    caps = ls.client_capabilities.workspace
    if caps is None or not caps.configuration:
        return None
    try:
        got = await asyncio.wait_for(ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=options.SECTION)])), CONFIG_TIMEOUT_S)
    except Exception as exc:  # timeouts, clients that answer with an error
        log.warning("workspace/configuration failed: %s", exc)
        return None
    return got[0] if got else None


async def start_loading(ls: DgServer) -> None:
    window = ls.client_capabilities.window
    if window is not None and window.work_done_progress:
        token = f"dg-lsp-load-{ls.host.generation + 1}"
        try:
            await asyncio.wait_for(ls.work_done_progress.create_async(token), CONFIG_TIMEOUT_S)
            ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                title="dg-lsp", message=f"loading model {ls.settings.model}", cancellable=False))
            ls.progress_token = token
        except Exception as exc:
            log.warning("work done progress unavailable: %s", exc)
    opts = options.engine_options(ls.settings)
    log.info("loading engine %s (device %s%s)", ls.settings.model, ls.settings.device or "auto",
             f", options {opts}" if opts else "")
    ls.host.load(ls.settings.model, ls.settings.device, ls.settings.trust_remote_code, opts)


def on_state(ls: DgServer, state: str, message: str) -> None:
    """Called on the event loop for every engine state change."""
    if state in {"ready", "error"} and ls.progress_token is not None:
        ls.work_done_progress.end(ls.progress_token, types.WorkDoneProgressEnd(message=message))
        ls.progress_token = None
    if state == "error":
        ls.tell(message, types.MessageType.Error)


def register(server: DgServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: DgServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        encoding = ls.workspace.position_encoding
        ls.store.encoding = str(getattr(encoding, "value", encoding) or "utf-16")
        apply_settings(ls, params.initialization_options, base=options.Settings())

    @server.feature(types.INITIALIZED)
    async def initialized(ls: DgServer, params: types.InitializedParams) -> None:
        raw = await pull_configuration(ls)
        if raw is not None:
            apply_settings(ls, raw)
        await start_loading(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: DgServer, params: types.DidChangeConfigurationParams) -> None:
        raw = params.settings
        if not isinstance(raw, dict) or options.SECTION not in raw:
            raw = await pull_configuration(ls) if ls.client_capabilities.workspace else raw
        if apply_settings(ls, raw):
            ls.results = type(ls.results)(ls.results.size)
            await start_loading(ls)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: DgServer, params: None) -> None:
        ls.scheduler.close()
