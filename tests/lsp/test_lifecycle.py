"""Start-up, readiness and settings, each against a fresh server."""
from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_harness import SERVE, _env, attach, capabilities, command, inline, open_doc, pos, start, wait_state

URI = "file:///life.py"
TEXT = "def area(r):\n    return \n"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVE, server_env=_env()))
async def bare(lsp_client: LanguageClient):
    """A server started without --model: the client's settings choose the model."""
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVE + ["--model", "random:tiny"], server_env=_env()))
async def tiny(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_requests_before_ready_answer_empty_then_work(tiny: LanguageClient):
    attach(tiny)
    tiny.capabilities = capabilities()
    # initialize only: the engine starts loading after `initialized`, so it cannot be ready yet.
    await tiny.initialize_async(t.InitializeParams(capabilities=capabilities(), process_id=None,
                                                   initialization_options={"debounceMs": 0, "maxFillTokens": 8}))
    open_doc(tiny, URI, TEXT)
    assert not (await inline(tiny, URI, pos(1, 11))).items
    actions = await tiny.text_document_code_action_async(t.CodeActionParams(
        text_document=t.TextDocumentIdentifier(uri=URI), range=t.Range(start=pos(1, 4), end=pos(1, 10)),
        context=t.CodeActionContext(diagnostics=[], trigger_kind=t.CodeActionTriggerKind.Invoked)))
    assert len(actions) == 2  # fill selection + fix line; no alternatives without an engine
    with pytest.raises(JsonRpcException, match="try again when it is ready"):
        await command(tiny, "dgLsp.fixLine", {"uri": URI, "line": 1})
    tiny.initialized(t.InitializedParams())
    await wait_state(tiny, "ready")
    # The first request after readiness works, with nothing special from the client.
    assert (await inline(tiny, URI, pos(1, 11))).items


async def test_settings_choose_model_and_bad_values_fall_back(bare: LanguageClient):
    bare.set_configuration({"dgLsp": {"maxFillTokens": "lots"}})  # answered to workspace/configuration
    await start(bare, {"model": "random:tiny", "debounceMs": -3})
    ready = [s for s in bare.rec.statuses if s["state"] == "ready"][-1]
    assert ready["model"] == "random:tiny"
    shown = [m.message for m in bare.messages]
    assert any("debounceMs" in m and "using 60" in m for m in shown), shown
    assert any("maxFillTokens" in m and "using 64" in m for m in shown), shown
    open_doc(bare, URI, TEXT)
    assert (await inline(bare, URI, pos(1, 11))).items


async def test_missing_model_reports_error_and_keeps_serving(bare: LanguageClient):
    await start(bare, {"model": "/nonexistent/model-dir"}, wait_ready=False)
    status = await wait_state(bare, "error", "ready")
    assert status["state"] == "error" and "/nonexistent/model-dir" in status["message"]
    assert any("could not load model" in m.message for m in bare.messages)
    open_doc(bare, URI, TEXT)
    assert not (await inline(bare, URI, pos(1, 11))).items
    with pytest.raises(JsonRpcException, match="error"):
        await command(bare, "dgLsp.fixLine", {"uri": URI, "line": 1})
    # A working model through didChangeConfiguration brings it back.
    bare.rec.statuses.clear()
    bare.workspace_did_change_configuration(t.DidChangeConfigurationParams(settings={"dgLsp": {"model": "random:tiny"}}))
    assert (await wait_state(bare, "ready", "error"))["state"] == "ready"
    assert (await inline(bare, URI, pos(1, 11))).items


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=SERVE + ["--model", "random:tiny", "--model-option", "dtype=float64"], server_env=_env()))
async def cli_option(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_model_options_reach_the_engine_and_a_change_reloads_it(bare: LanguageClient):
    await start(bare, {"model": "random:tiny", "modelOptions": {"dtype": "float64"}}, wait_ready=False)
    status = await wait_state(bare, "error", "ready")
    assert status["state"] == "error" and "unknown dtype 'float64'" in status["message"]
    bare.rec.statuses.clear()
    bare.workspace_did_change_configuration(t.DidChangeConfigurationParams(
        settings={"dgLsp": {"model": "random:tiny", "modelOptions": {"dtype": "float32"}}}))
    assert (await wait_state(bare, "ready", "error"))["state"] == "ready"
    open_doc(bare, URI, TEXT)
    assert (await inline(bare, URI, pos(1, 11))).items


async def test_serve_model_option_beats_the_client(cli_option: LanguageClient):
    await start(cli_option, {"modelOptions": {"dtype": "float32"}}, wait_ready=False)
    status = await wait_state(cli_option, "error", "ready")
    assert status["state"] == "error" and "unknown dtype 'float64'" in status["message"]
