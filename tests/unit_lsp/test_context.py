import pytest

from engine.api import Hole
from dg_lsp import context, languages
from dg_lsp.context import ContextError, HoleSpan, estimate_tokens
from dg_lsp.documents import DocumentStore

# language id -> (source, ragged selection inside `a + b * 2`, expected snapped text)
SNAP_SAMPLES = {
    "python": "def add(a, b):\n    total = a + b * 2\n    return total\n",
    "javascript": "function add(a, b) {\n  const total = a + b * 2;\n  return total;\n}\n",
    "typescript": "function add(a: number, b: number): number {\n  const total = a + b * 2;\n  return total;\n}\n",
    "typescriptreact": "function App() {\n  const total = a + b * 2;\n  return <div>{total}</div>;\n}\n",
    "go": "package main\n\nfunc add(a int, b int) int {\n\ttotal := a + b * 2\n\treturn total\n}\n",
    "rust": "fn add(a: i32, b: i32) -> i32 {\n    let total = a + b * 2;\n    total\n}\n",
    "java": "class A {\n  int add(int a, int b) {\n    int total = a + b * 2;\n    return total;\n  }\n}\n",
    "c": "int add(int a, int b) {\n  int total = a + b * 2;\n  return total;\n}\n",
    "cpp": "int add(int a, int b) {\n  int total = a + b * 2;\n  return total;\n}\n",
}
STATEMENTS = {"python": "total = a + b * 2", "go": "total := a + b * 2", "rust": "let total = a + b * 2;",
              "javascript": "const total = a + b * 2;", "typescript": "const total = a + b * 2;",
              "typescriptreact": "const total = a + b * 2;", "java": "int total = a + b * 2;",
              "c": "int total = a + b * 2;", "cpp": "int total = a + b * 2;"}


def snapshot(text: str, lang: str = "python"):
    store = DocumentStore(languages.parser_for)
    store.open("file:///t", lang, 1, text)
    return store.snapshot("file:///t")


@pytest.mark.parametrize("lang", sorted(SNAP_SAMPLES))
def test_every_language_snaps_ragged_selection_to_nodes(lang):
    src = SNAP_SAMPLES[lang]
    snap = snapshot(src, lang)
    assert snap.tree is not None and not snap.tree.root_node.has_error
    i = src.index("+ b *")
    s, e = context.snap_range(snap, i + 1, i + 5)  # " b *": starts in whitespace, ends mid-expression
    assert src[s:e] == "b * 2"
    j = src.index("otal = ") if "otal = " in src else src.index("otal := ")
    s, e = context.snap_range(snap, j, j + 7)  # "otal = " / "otal :=": cuts an identifier
    assert src[s:e].startswith(("total", "let total", "const total", "int total")) and src[s:e] in STATEMENTS[lang]
    s, e = context.statement_range(snap, i)
    assert src[s:e] == STATEMENTS[lang]


def test_unknown_language_snaps_to_lines():
    src = "alpha beta\ngamma delta\n"
    snap = snapshot(src, "cobol")
    assert snap.tree is None
    s, e = context.snap_range(snap, 3, 14)
    assert src[s:e] == "alpha beta\ngamma delta"
    assert context.snap_range(snap, 1, 4) == (1, 4)


@pytest.mark.parametrize(("lang", "src", "marker", "expected"), [
    ("python", "def f(x):\n    |", "|", True),
    ("python", "def f(x):|", "|", True),
    ("python", "class A:\n    def f(self):\n        |\n    def g(self):\n        pass\n", "|", True),
    ("python", "def f(x):\n    y = |\n", "|", False),
    ("python", "def f(x):\n    y = 1\n    |\n", "|", False),
    ("python", "d = {|}\n", "|", False),
    ("python", "x = foo(|)\n", "|", False),
    ("javascript", "function f() {\n  |\n}\n", "|", True),
    ("javascript", "const o = {|};\n", "|", False),
    ("rust", "fn f() {\n    |\n}\n", "|", True),
    ("go", "func f() {\n\tx := 1\n\t|\n}\n", "|", False),
    ("cobol", "loop {\n  |\n", "|", True),
    ("cobol", "x = |\n", "|", False),
])
def test_multiline_decision(lang, src, marker, expected):
    off = src.index(marker)
    snap = snapshot(src.replace(marker, ""), lang)
    assert context.wants_multiline(snap, off) is expected


def test_markers_in_enclosing_scope_only():
    src = "def f():\n    a = ???\n    return ???\n\ndef g():\n    return ???\n"
    snap = snapshot(src)
    found = context.marker_ranges(snap, src.index("a ="), "???")
    assert found == [(src.index("???"), src.index("???") + 3), (src.index("return ???") + 7, src.index("return ???") + 10)]
    assert len(context.marker_ranges(snapshot("x = ???\ny = ???\n"), 0, "???")) == 2


BIG = ("import os\nimport sys\n\n\nclass Store:\n    def __init__(self):\n        self.items = []\n\n"
       + "".join(f"    def method_{i}(self, x):\n        return x + {i}\n\n" for i in range(60))
       + "    def target(self, key):\n        value = self.items[key]\n        return value\n\n"
       + "".join(f"    def after_{i}(self):\n        return {i}\n\n" for i in range(60)))


def test_pin_spends_budget_on_near_lines_headers_and_imports():
    snap = snapshot(BIG)
    off = BIG.index("value = ") + len("value = ")
    hole = HoleSpan(off, off + len("self.items[key]"), 16, single_line=True)
    pinned = context.pin(snap, [hole], 200)
    head, h, tail = pinned.segments
    assert isinstance(h, Hole) and h.single_line and h.max_tokens == 16
    assert head.startswith("import os\nimport sys\n")  # imports first
    assert "class Store:\n" in head  # enclosing class header pinned although far away
    assert head.endswith("    def target(self, key):\n        value = ")
    assert tail.startswith("\n        return value\n")
    assert "def method_0" not in head and "after_59" not in tail
    assert pinned.context_tokens <= 200 + 20  # estimate; small overshoot from line granularity
    # The window is cut at line boundaries.
    lo, hi = pinned.window
    assert lo == 0 or BIG[lo - 1] == "\n"
    assert hi == len(BIG) or BIG[hi - 1] == "\n"


def test_names_outside_the_window_go_with_the_request():
    """A window cannot show where a name was defined: the identifiers outside it travel with the
    request (`InfillRequest.names`) so that the syntax guard does not take a helper defined far
    away for a name that cannot exist; a window that is the whole document sends none."""
    snap = snapshot(BIG)
    off = BIG.index("value = ") + len("value = ")
    pinned = context.pin(snap, [HoleSpan(off, off + len("self.items[key]"), 16, single_line=True)], 200)
    names = context.names_outside(snap, pinned.window)
    assert "method_0" not in "".join(s for s in pinned.segments if isinstance(s, str))
    assert {"method_0", "after_59", "Store"} <= names and "value =" not in names and "0" not in names
    whole = context.pin(snap, [HoleSpan(off, off + len("self.items[key]"), 16, single_line=True)], 100_000)
    assert whole.window == (0, len(BIG)) and context.names_outside(snap, whole.window) == frozenset()


def test_prefix_window_start_is_stable_while_typing():
    base = BIG.index("value = ") + len("value = ")
    starts = set()
    for typed in ["", "s", "se", "sel", "self", "self.", "self.it", "self.items", "self.items[k"]:
        text = BIG[:base] + typed + BIG[base:]
        snap = snapshot(text)
        off = base + len(typed)
        pinned = context.pin(snap, [HoleSpan(off, off, 16, single_line=True)], 300)
        starts.add(pinned.segments[0].split("    def target")[0])
    assert len(starts) == 1


def test_pin_multiple_holes_and_errors():
    src = "def f(a):\n    x = ???\n    y = ???\n    return x + y\n"
    snap = snapshot(src)
    holes = [HoleSpan(s, e, 8, single_line=True) for s, e in context.marker_ranges(snap, 12, "???")]
    pinned = context.pin(snap, holes, 500)
    assert [type(s).__name__ for s in pinned.segments] == ["str", "Hole", "str", "Hole", "str"]
    assert "".join(s if isinstance(s, str) else "???" for s in pinned.segments) == src
    with pytest.raises(ContextError):
        context.pin(snap, [], 100)
    with pytest.raises(ContextError):
        context.pin(snap, [HoleSpan(10, 20, 8), HoleSpan(15, 25, 8)], 100)


def test_unknown_language_uses_line_windows():
    src = "".join(f"line {i}\n" for i in range(200))
    snap = snapshot(src, "cobol")
    off = src.index("line 100")
    pinned = context.pin(snap, [HoleSpan(off, off + 8, 8)], 60)
    assert pinned.segments[0].endswith("line 99\n") and pinned.segments[2].startswith("\nline 101\n")
    assert estimate_tokens(pinned.segments[0]) < 60
