from lsprotocol import types as t
from pytest_lsp import LanguageClient

from lsp_harness import inline, open_doc, pos
from lsp_harness import client  # noqa: F401  (fixture)

URI = "file:///smoke.py"


async def test_capabilities_and_inline_completion(client: LanguageClient):
    open_doc(client, URI, "def add(a, b):\n    return \n")
    result = await inline(client, URI, pos(1, 11))
    assert isinstance(result, t.InlineCompletionList)
    assert result.items and all(isinstance(i.insert_text, str) for i in result.items)
    assert result.items[0].range == t.Range(start=pos(1, 11), end=pos(1, 11))
