"""The real embedded model end to end (one server): a single-line fill and a joint hole fill whose
text is plausible code. Skipped, with the reason, until the trained weights are in engine/weights.
DG_LSP_TEST_MODEL=<model folder> runs it against another model of the same kind (a training
snapshot, say)."""
from __future__ import annotations

import os

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_harness import ROOT, SERVE, _env, command, inline, open_doc, pos, start

WEIGHTS = ROOT / "engine" / "weights" / "model.safetensors"
MODEL = os.environ.get("DG_LSP_TEST_MODEL", "embedded")
pytestmark = pytest.mark.skipif(MODEL == "embedded" and not WEIGHTS.exists(),
                                reason=f"{WEIGHTS} does not exist yet (the model is still training)")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVE + ["--model", MODEL, "--device", "cpu"],
                                              server_env=_env()))
async def embedded(lsp_client: LanguageClient):
    await start(lsp_client, {"debounceMs": 0})
    yield
    await lsp_client.shutdown_session()


async def test_embedded_model_serves(embedded: LanguageClient):
    """The shipped model answers inline requests and commands through the server, without errors."""
    uri = "file:///serve-embedded.py"
    open_doc(embedded, uri, "import os\n\n\ndef read_file(path):\n    with open(path) as f:\n        return f.\n")
    result = await inline(embedded, uri, pos(5, 17))
    assert isinstance(result.items, (list, tuple))
    open_doc(embedded, "file:///serve-holes.py", "def add(a, b):\n    total = ???\n    return total\n")
    out = await command(embedded, "dgLsp.fillHoles", {"uri": "file:///serve-holes.py", "version": 1,
                                                      "position": {"line": 1, "character": 4}})
    assert out["version"] == 1 and isinstance(out["applied"], bool)
    ready = [s for s in embedded.rec.statuses if s["state"] == "ready"][-1]
    assert ready["model"] == MODEL
    assert not [s for s in embedded.rec.statuses if s["state"] == "error"]


async def test_embedded_model_fills(embedded: LanguageClient):
    uri = "file:///embedded.py"
    text = "import os\n\n\ndef read_file(path):\n    with open(path) as f:\n        return f.\n"
    open_doc(embedded, uri, text)
    result = await inline(embedded, uri, pos(5, 17))
    assert result.items
    fill = result.items[0].insert_text
    assert fill.strip() and "\n" not in fill  # single-line hole after `f.`
    holes = "def add(a, b):\n    total = ???\n    return total\n"
    open_doc(embedded, "file:///holes-embedded.py", holes)
    out = await command(embedded, "dgLsp.fillHoles", {"uri": "file:///holes-embedded.py", "version": 1,
                                                      "position": {"line": 1, "character": 4}})
    assert out["applied"] is True
    new_text = out["edits"][0]["newText"]
    assert new_text.strip() and "???" not in new_text
    ready = [s for s in embedded.rec.statuses if s["state"] == "ready"][-1]
    assert ready["model"] == MODEL
