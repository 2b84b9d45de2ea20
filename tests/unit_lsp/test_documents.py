from lsprotocol import types as t
import pytest

from dg_lsp import languages
from dg_lsp.documents import DocumentError, DocumentStore, Snapshot, chars_to_units, units_to_chars


def pos(line: int, ch: int) -> t.Position:
    return t.Position(line=line, character=ch)


def test_utf16_columns_with_emoji_and_cjk():
    line = "s = '😀漢字' + x"
    # 😀 is two UTF-16 code units, 漢 and 字 one each.
    assert units_to_chars(line, 5, "utf-16") == 5  # after the quote
    assert units_to_chars(line, 7, "utf-16") == 6  # after the emoji
    assert units_to_chars(line, 6, "utf-16") == 5  # inside the surrogate pair rounds down
    assert chars_to_units(line, 8, "utf-16") == 9
    assert chars_to_units(line, 8, "utf-8") == len("s = '😀漢字".encode())
    assert chars_to_units(line, 8, "utf-32") == 8


def test_offsets_roundtrip_crlf_and_lone_cr():
    snap = Snapshot("u", 1, "python", "a = 1\r\nb = '😀'\rc\n")
    assert snap.line_count == 4
    assert snap.line_text(0) == "a = 1" and snap.line_text(1) == "b = '😀'" and snap.line_text(2) == "c"
    off = snap.offset_at(pos(1, 7))  # after the emoji
    assert snap.text[off] == "'"
    assert snap.position_at(off) == pos(1, 7)
    # Past the end of a line clamps to the line end, not into the next line.
    assert snap.offset_at(pos(0, 99)) == 5
    assert snap.eol == "\n"  # one CRLF, one LF: not a CRLF majority
    assert Snapshot("u", 1, "c", "a\r\nb\r\n").eol == "\r\n"


def test_out_of_range_positions():
    snap = Snapshot("u", 1, "python", "x\ny\n")
    with pytest.raises(DocumentError):
        snap.offset_at(pos(7, 0))
    assert snap.offset_at(pos(7, 0), strict=False) == len(snap.text)
    assert snap.offset_at(pos(2, 0)) == 4  # the empty last line exists


def test_incremental_edits_keep_tree_in_sync():
    store = DocumentStore(languages.parser_for)
    store.open("u", "python", 1, "def f():\n    return 1\n")
    change = t.TextDocumentContentChangePartial(range=t.Range(start=pos(1, 11), end=pos(1, 12)), text="'漢字😀'")
    doc = store.change("u", 2, [change])
    assert doc.text == "def f():\n    return '漢字😀'\n" and doc.version == 2
    fresh = languages.parse("python", doc.text)
    assert str(doc.tree.root_node) == str(fresh.root_node)
    change2 = t.TextDocumentContentChangePartial(range=t.Range(start=pos(1, 18), end=pos(1, 18)), text=" + x")
    doc = store.change("u", 3, [change2])
    assert doc.text == "def f():\n    return '漢字😀' + x\n"
    assert str(doc.tree.root_node) == str(languages.parse("python", doc.text).root_node)


def test_full_replacement_and_snapshot_isolation():
    store = DocumentStore(languages.parser_for)
    store.open("u", "python", 1, "x = 1\n")
    snap = store.snapshot("u")
    store.change("u", 2, [t.TextDocumentContentChangeWholeDocument(text="y = 2\n")])
    assert snap.text == "x = 1\n" and snap.version == 1
    assert store.snapshot("u").version == 2
    with pytest.raises(DocumentError):
        store.get("file:///never-opened")


def test_binary_and_unknown_language_have_no_tree():
    store = DocumentStore(languages.parser_for)
    assert store.open("a", "python", 1, "x\x00y").tree is None
    assert store.open("b", "brainfuck", 1, "+++").tree is None


def test_huge_documents_are_not_parsed():
    from dg_lsp.documents import MAX_PARSE_CHARS

    store = DocumentStore(languages.parser_for)
    big = "x = 1\n" * (MAX_PARSE_CHARS // 6 + 1)
    doc = store.open("big", "python", 1, big)
    assert doc.tree is None
    snap = store.snapshot("big")
    assert snap.offset_at(pos(snap.line_count - 2, 5)) == len(big) - 1
