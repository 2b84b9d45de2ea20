"""benchmarks/heldout_lines.py: which lines it asks for, and how it scores a fill."""
from __future__ import annotations

from types import SimpleNamespace

from benchmarks import heldout_lines

GOOD = """// helpers
function add(a, b) {
  const total = a + b;
  return total;
}

module.exports = { add };
"""
BROKEN = "function add(a, b {\n  return a + b;\n"


def test_lines_come_from_files_that_parse_and_are_code():
    cases = heldout_lines.holes([BROKEN, GOOD], "javascript", 10, seed=0)
    lines = {text[s:e] for text, s, e in cases}
    assert all(text is GOOD for text, _, _ in cases)
    assert lines == {"function add(a, b) {", "  const total = a + b;", "  return total;", "module.exports = { add };"}
    assert cases == heldout_lines.holes([BROKEN, GOOD], "javascript", 10, seed=0)  # deterministic
    typed = {text[s:e] for text, s, e in heldout_lines.typed(cases, "word")}
    assert typed == {"add(a, b) {", "total = a + b;", "total;", "= { add };"}


class Scripted:
    """An engine whose fill is a function of the request's text before the hole."""

    def __init__(self, answer):
        self.answer, self.requests = answer, []

    def infill(self, request, cancel=None):
        self.requests.append(request)
        fill = self.answer(request.segments[0])
        return SimpleNamespace(candidates=[SimpleNamespace(fills=[fill])])


def test_a_fill_is_scored_against_the_line_in_the_whole_file():
    cases = [(GOOD, GOOD.index("  return"), GOOD.index(";\n}") + 1)]
    right = heldout_lines.run(Scripted(lambda before: "  return total;"), "javascript", cases, 1500, 600)
    assert right[0]["exact"] and right[0]["parses"] and right[0]["es"] == 1.0
    wrong = heldout_lines.run(Scripted(lambda before: "  return (total;\nmore"), "javascript", cases, 1500, 600)
    # a single-line fill ends at its first newline; it does not parse in the file
    assert wrong[0]["fill"] == "  return (total;" and not wrong[0]["exact"] and not wrong[0]["parses"]
    engine = Scripted(lambda before: "")
    heldout_lines.run(engine, "javascript", cases, 25, 5)
    request = engine.requests[0]
    # the window starts on a line and the hole is one line long, the language is the file's
    assert request.segments[0] == "  const total = a + b;\n" and request.segments[2] == "\n}\n\nm"
    assert request.segments[1].single_line and request.language == "javascript"
