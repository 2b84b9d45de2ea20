from dg_lsp import edits, languages
from dg_lsp.context import HoleSpan
from dg_lsp.documents import DocumentStore


def snapshot(text: str, lang: str = "python"):
    store = DocumentStore(languages.parser_for)
    store.open("file:///t", lang, 1, text)
    return store.snapshot("file:///t")


def at(src: str, marker: str = "|", single_line: bool = True):
    off = src.index(marker)
    text = src.replace(marker, "", 1)
    return snapshot(text), HoleSpan(off, off, 32, single_line=single_line)


def best(src: str, fill: str, single_line: bool = True) -> str:
    snap, hole = at(src, single_line=single_line)
    ranked = edits.rank(snap, [hole], [([fill], 0.0)])
    return ranked[0].fills[0] if ranked else ""


def test_trim_suffix_overlap_uses_parse_check():
    assert best("x = print(|)\n", "foo(x))") == "foo(x)"
    assert best("x = print(|)\n", "foo()") == "foo()"  # the `)` is needed: no trim
    assert best("x = [|]\n", "1, 2]") == "1, 2"


def test_balance_brackets():
    assert best("x = print(|)\n", "foo(x") == "foo(x)"
    assert best("y = |\n", "max(a, (b + 1)") == "max(a, (b + 1))"
    assert edits.unclosed("f('(', [1") == (["("], 0) or edits.unclosed("f('(', [1") == (["(", "["], 0)


def test_a_string_left_open_is_cut_and_its_brackets_closed():
    src = "def check(x):\n    if x < 0:\n        raise |\n    return x\n"
    assert best(src, 'ValueError("') == "ValueError()"
    assert best(src, "ValueError('bad") == "ValueError()"
    assert best(src, 'ValueError("bad")') == 'ValueError("bad")'  # closed: kept as written
    assert best('x = f("a", |)\n', 'g("b') == "g()"  # the closed literal before the hole is no cut
    assert edits.cut_open_string('say("hi', "") == "say("


def test_multiline_overlap_with_following_lines_is_dropped():
    src = "def f(x):\n    |\n    return y\n"
    assert best(src, "y = x * 2\n    return y", single_line=False) == "y = x * 2"


def test_indentation_repeated_and_tabs():
    src = "def f(x):\n    |\n"
    assert best(src, "    return x", single_line=False) == "return x"
    tabbed = "def f(x):\n\tif x:\n\t\t|\n"
    snap, hole = at(tabbed, single_line=False)
    out = edits.variants(snap, hole, "y = 1\n        return y")[0]
    assert out == "y = 1\n\t\treturn y"


def test_single_line_cut_and_crlf():
    assert best("x = |\n", "1\ny = 2") == "1"
    src = "def f(x):\r\n    |\r\n    return y\r\n"
    off = src.index("|")
    snap = snapshot(src.replace("|", ""))
    ranked = edits.rank(snap, [HoleSpan(off, off, 32)], [(["y = 1\nz = 2", ], 0.0)])
    assert ranked[0].fills[0] == "y = 1\r\nz = 2"


def test_rank_prefers_parseable_candidate_and_drops_duplicates_and_empties():
    snap, hole = at("def f(x):\n    return |\n")
    ranked = edits.rank(snap, [hole], [(["x +"], -0.1), (["x + 1"], -0.5), (["x + 1"], -0.6), (["  "], -0.2)])
    assert [r.fills for r in ranked] == [["x + 1"]]
    assert ranked[0].errors == 0
    both_ok = edits.rank(snap, [hole], [(["x"], -0.1), (["x * 2"], -0.5)])
    assert [r.fills[0] for r in both_ok] == ["x", "x * 2"]  # engine order kept among equals


def test_joint_holes_and_unknown_language():
    src = "def f(a):\n    x = ???\n    y = ???\n"
    snap = snapshot(src)
    i, j = src.index("???"), src.rindex("???")
    holes = [HoleSpan(i, i + 3, 8, True), HoleSpan(j, j + 3, 8, True)]
    ranked = edits.rank(snap, holes, [(["a + 1", "x * 2"], 0.0)])
    assert edits.apply(src, holes, ranked[0].fills) == "def f(a):\n    x = a + 1\n    y = x * 2\n"
    plain = snapshot("value: (|)\n".replace("|", ""), "cobol")
    off = len("value: (")
    assert edits.rank(plain, [HoleSpan(off, off, 8, True)], [(["1 + (2"], 0.0)])[0].fills == ["1 + (2)"]


def test_errors_incremental_matches_full_parse():
    src = "def f(x):\n    return 😀(x)\n    y = [1, 2\n"
    snap = snapshot(src)
    i = src.index("(x)") + 1
    hole = HoleSpan(i, i + 1, 8)
    for fill in ["x", "x, 漢字", "(", "]"]:
        full = languages.count_errors(languages.parse("python", edits.apply(src, [hole], [fill])))
        assert edits.errors(snap, [hole], [fill]) == full
