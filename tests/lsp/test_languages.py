"""Every grammar's snapping end to end: a ragged selection in a small sample is grown to whole
syntax nodes before it is refilled, and the edit lands exactly there (UTF-16 columns)."""
from __future__ import annotations

import pytest
from pytest_lsp import LanguageClient

from lsp_harness import command, open_doc
from lsp_harness import shared  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio(loop_scope="module")

# language id → (sample, ragged selection text, text of the nodes it must snap to)
SAMPLES = {
    "python": ("def add(a, b):\n    total = a + b * 2\n    return total\n", " b *", "b * 2"),
    "javascript": ("function add(a, b) {\n  const total = a + b * 2;\n  return total;\n}\n", " b *", "b * 2"),
    "typescript": ("function add(a: number, b: number): number {\n  const total = a + b * 2;\n  return total;\n}\n",
                   "a: number, b", "a: number, b: number"),
    "typescriptreact": ("function App() {\n  const n = a + b * 2;\n  return <div>{n}</div>;\n}\n", "<div>{", "<div>{n}"),
    "go": ("package main\n\nfunc add(a int, b int) int {\n\ttotal := a + b * 2\n\treturn total\n}\n", "otal :=",
           "total := a + b * 2"),
    "rust": ("fn add(a: i32, b: i32) -> i32 {\n    let total = a + b * 2;\n    total\n}\n", "-> i3", "i32"),
    "java": ("class A {\n  int add(int a, int b) {\n    int total = a + b * 2;\n    return total;\n  }\n}\n",
             "eturn tot", "return total;"),
    "c": ("int add(int a, int b) {\n  int total = a + b * 2;\n  return total;\n}\n", "(int a, in", "(int a, int b)"),
    "cpp": ("#include <vector>\nint add(int a, int b) {\n  std::vector<int> v{a, b};\n  return v[0];\n}\n",
            "vector<in", "vector<int>"),
}


def pos_of(text: str, offset: int) -> dict:
    line = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return {"line": line, "character": col}


@pytest.mark.parametrize("lang", sorted(SAMPLES))
async def test_fill_selection_snaps(shared: LanguageClient, lang: str):
    text, ragged, expected = SAMPLES[lang]
    uri = f"file:///sample-{lang}"
    open_doc(shared, uri, text, language=lang)
    s = text.index(ragged)
    out = await command(shared, "dgLsp.fillSelection",
                        {"uri": uri, "version": 1, "range": {"start": pos_of(text, s), "end": pos_of(text, s + len(ragged))}})
    if not out["edits"]:  # the random model may produce nothing: the snapped range is still reported
        pytest.fail(f"no edit for {lang}: {out}")
    r = out["edits"][0]["range"]
    # The occurrence of `expected` that overlaps the selection.
    start = next(i for i in range(len(text)) if text.startswith(expected, i) and i < s + len(ragged)
                 and i + len(expected) > s)
    assert r == {"start": pos_of(text, start), "end": pos_of(text, start + len(expected))}
