"""The Neovim plugin in a real headless Neovim (0.7 and 0.11) against the real dg-lsp server.

Most tests use the tiny random-weight model (real engine and LSP plumbing, meaningless text), so
they check mechanics exactly: what is shown is what gets inserted, nothing is inserted after the
buffer changed under the suggestion. The embedded-model tests run the shipped model: ghost text
appears, accept() inserts it and the file parses, dismiss(), next(), a code action, a stale suggestion.
"""
from __future__ import annotations

import ast

from nvim_harness import Editor, nv, nv_auto, nv_embedded  # noqa: F401  (fixtures)

SRC = "def add(a, b):\n    total = a + b\n    return \n\n\nprint(add(1, 2))\n"
RETURN_LINE = 2  # 0-based: "    return "


def _applied(before: list[str], row: int, col: int, text: str) -> list[str]:
    line = before[row]
    return before[:row] + (line[:col] + text + line[col:]).split("\n") + before[row + 1:]


def test_ghost_text_appears_and_accept_inserts_exactly_it(nv: Editor, tmp_path):
    before = nv.open(tmp_path / "a.py", SRC, RETURN_LINE)["lines"]
    st = nv.trigger()
    cur = st["current"]
    assert st["visible"] and st["marks"] == 1
    assert (cur["row"], cur["col"]) == (RETURN_LINE, len("    return "))
    assert st["rendered"] == cur["text"].replace("\t", " " * 8)  # what is drawn ('tabstop' 8)
    assert st["virt_text_pos"] == ("inline" if nv.label != "0.7" else "overlay")
    assert st["lines"] == before  # ghost text is virtual: the buffer is untouched

    assert nv.lua("return require('dg_lsp').accept()") is True
    after = nv.state()
    assert after["lines"] == _applied(before, cur["row"], cur["col"], cur["text"])
    assert not after["visible"] and after["marks"] == 0
    # The cursor ends after the inserted text.
    last = cur["text"].split("\n")
    assert after["cursor"] == [cur["row"] + len(last) - 1,
                               (cur["col"] if len(last) == 1 else 0) + len(last[-1].encode())]


def test_dismiss_clears_ghost_text(nv: Editor, tmp_path):
    before = nv.open(tmp_path / "a.py", SRC, RETURN_LINE)["lines"]
    nv.trigger()
    nv.lua("require('dg_lsp').dismiss()")
    st = nv.state()
    assert not st["visible"] and st["marks"] == 0 and st["rendered"] == ""
    assert st["lines"] == before
    assert nv.lua("return require('dg_lsp').accept()") is False  # nothing left to accept
    assert nv.state()["lines"] == before


COMMENT_SRC = "def add(a, b):\n    total = a + b  # \n    return total\n"


def test_next_and_prev_cycle_candidates(nv: Editor, tmp_path):
    # At the end of a comment every candidate parses, so the server drops none of the random model's
    # alternatives (it drops candidates that add parse errors when another does not).
    nv.open(tmp_path / "c.py", COMMENT_SRC, 1)
    col0 = len("    total = a + b  # ")
    st = nv.trigger(min_count=2)  # an explicit trigger asks for `candidates` alternatives
    first, count = st["current"]["text"], st["current"]["count"]
    mark = st["mark_id"]
    nv.lua("require('dg_lsp').next()")
    st = nv.state()
    assert st["current"]["index"] == 2 and st["current"]["text"] != first
    assert st["mark_id"] == mark  # redrawn in place
    second = st["current"]["text"]
    nv.lua("require('dg_lsp').prev()")
    assert nv.state()["current"]["text"] == first
    nv.lua("require('dg_lsp').prev()")  # wraps around to the last
    assert nv.state()["current"]["index"] == count
    nv.lua("for _ = 1, " + str(count) + " do require('dg_lsp').next() end")
    assert nv.state()["current"]["index"] == count  # a full cycle comes back
    nv.lua("require('dg_lsp').next(); require('dg_lsp').next()")
    assert nv.state()["current"]["text"] == second
    # Accept takes the candidate being shown.
    before = nv.state()["lines"]
    assert nv.lua("return require('dg_lsp').accept()") is True
    assert nv.state()["lines"] == _applied(before, 1, col0, second)


def test_not_applied_after_the_buffer_changed_under_it(nv: Editor, tmp_path):
    before = nv.open(tmp_path / "a.py", SRC, RETURN_LINE)["lines"]
    nv.trigger()
    # Another line changes (a formatter, another client, :s...): the suggestion is void.
    ok = nv.lua("vim.api.nvim_buf_set_lines(0, 0, 1, false, {'def plus(a, b):'}); "
                "return require('dg_lsp').accept()")
    assert ok is False
    st = nv.state()
    assert not st["visible"] and st["marks"] == 0
    assert st["lines"] == ["def plus(a, b):"] + before[1:]

    # The same line changes to something other than the suggestion's own text: void too.
    nv.trigger()
    ok = nv.lua("local r = vim.api.nvim_win_get_cursor(0)[1] - 1; "
                "vim.api.nvim_buf_set_text(0, r, 4, r, 4, {'yield '}); "
                "return require('dg_lsp').accept()")
    assert ok is False
    st = nv.state()
    assert not st["visible"]
    assert st["lines"][RETURN_LINE] == "    yield return "


def test_typing_through_keeps_the_rest_without_flicker(nv: Editor, tmp_path):
    before = nv.open(tmp_path / "a.py", SRC, RETURN_LINE)["lines"]
    st = nv.trigger()
    text, mark = st["current"]["text"], st["mark_id"]
    ch = text[0]
    if ch == "\n":
        return  # a suggestion that starts with a newline is typed through by <CR>, not covered here
    nv.nvim.input("<lt>" if ch == "<" else ch)
    st = nv.wait(f"require('dg_lsp.lsp') and vim.api.nvim_buf_get_changedtick(0) > {st['tick']}", 10_000, "the keystroke")
    assert st["visible"], "typing the suggestion's own next character must keep it"
    assert st["current"]["text"] == text[1:]
    assert st["mark_id"] == mark  # the same extmark, updated in place: no clear-and-redraw
    assert nv.lua("return require('dg_lsp').accept()") is True
    assert nv.state()["lines"] == _applied(before, RETURN_LINE, len("    return "), text)


def test_typing_something_else_dismisses(nv: Editor, tmp_path):
    nv.open(tmp_path / "a.py", SRC, RETURN_LINE)
    st = nv.trigger()
    other = "Z" if st["current"]["text"][0] != "Z" else "Q"
    nv.nvim.input(other)
    st = nv.wait(f"vim.api.nvim_buf_get_changedtick(0) > {st['tick']}", 10_000, "the keystroke")
    assert not st["visible"] and st["marks"] == 0
    assert st["lines"][RETURN_LINE] == "    return " + other


def test_tab_indents_without_suggestion_and_accepts_with_one(nv: Editor, tmp_path):
    before = nv.open(tmp_path / "a.py", SRC, 3, insert_at_end=True)["lines"]  # the empty line after `return`
    # What a plain <Tab> inserts here (the python ftplugin sets expandtab and softtabstop=4).
    indent = nv.lua("return vim.bo.expandtab and string.rep(' ', vim.fn.shiftwidth()) or '\t'")
    tick = nv.state()["tick"]
    nv.nvim.input("<Tab>")
    st = nv.wait(f"vim.api.nvim_buf_get_changedtick(0) > {tick}", 10_000, "<Tab>")
    assert st["lines"][3] == indent, "with no suggestion, <Tab> must indent as usual"
    st = nv.trigger()
    text = st["current"]["text"]
    nv.nvim.input("<Tab>")
    st = nv.wait("not require('dg_lsp').is_visible()", 10_000, "<Tab> to accept")
    assert st["lines"] == _applied(before[:3] + [indent] + before[4:], 3, len(indent), text)


def test_auto_trigger_while_typing_shows_latest_only(nv_auto: Editor, tmp_path):
    nv = nv_auto
    nv.open(tmp_path / "a.py", SRC, RETURN_LINE)
    nv.nvim.input("a +")  # three keystrokes in a row: earlier requests are superseded
    st = nv.wait("require('dg_lsp').is_visible()", 120_000, "auto-triggered ghost text")
    assert st["lines"][RETURN_LINE] == "    return a +"
    assert (st["current"]["row"], st["current"]["col"]) == (RETURN_LINE, len("    return a +"))


def _fill_hole_marker_by_code_action(nv: Editor, tmp_path) -> list[str]:
    """`    total = ???` filled through vim.lsp.buf.code_action() and the fill-holes action; the lines after."""
    src = "def add(a, b):\n    total = ???\n    return total\n"
    nv.open(tmp_path / "h.py", src, 1, insert_at_end=False)
    nv.lua("DgTest.pick_code_action('[Hh]ole')")
    nv.lua("vim.lsp.buf.code_action()")
    st = nv.wait("not vim.api.nvim_buf_get_lines(0, 1, 2, false)[1]:find('???', 1, true)", 120_000,
                 "the hole to be filled by the code action")
    lines = st["lines"]
    assert lines[0] == "def add(a, b):" and lines[1].startswith("    total = ") and "    return total" in lines[2:]
    return lines


def test_code_action_fills_hole_markers(nv: Editor, tmp_path):
    _fill_hole_marker_by_code_action(nv, tmp_path)


def test_visual_block_selection_is_filled_jointly(nv: Editor, tmp_path):
    src = "x = AAAA\ny = AAAA\nprint(x, y)\n"
    nv.open(tmp_path / "v.py", src, 0, insert_at_end=False)
    nv.nvim.command("call cursor(1, 5)")
    nv.nvim.input("<C-v>j$<Esc>")
    nv.wait("vim.api.nvim_get_mode().mode == 'n' and vim.fn.visualmode() == '\\22'", 10_000, "block selection")
    ranges = nv.lua("return require('dg_lsp.actions').visual_ranges(0, vim.fn.visualmode(), 'utf-16')")
    assert ranges == [
        {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 8}},
        {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 8}},
    ]
    nv.nvim.command("DgLspFill")
    st = nv.wait("not table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n'):find('AAAA', 1, true)",
                 120_000, "both spans to be filled")
    text = "\n".join(st["lines"])
    assert text.startswith("x = ") and "\ny = " in text and text.rstrip().endswith("print(x, y)")


# ---- the shipped model behind the real server behind the editor -----------------------------------
# The positions are mid-line, where an editor asks while the user types: after `import ` and after
# `raise `. What the model writes there is its own (greedy, then sampled alternatives); the tests
# assert what the issue names — shown, accepted exactly, parses, dismissed, cycled, applied, refused
# when stale — not particular text.
IMPORT_SRC = "import \n\n\ndef main():\n    print(os.getcwd())\n"
RAISE_SRC = "def check(x):\n    if x < 0:\n        raise \n    return x\n"


def test_embedded_ghost_text_appears_accept_inserts_it_and_the_file_parses(nv_embedded: Editor, tmp_path):
    nv = nv_embedded
    before = nv.open(tmp_path / "e.py", RAISE_SRC, 2)["lines"]
    st = nv.trigger()
    cur = st["current"]
    assert cur["text"].strip() and (cur["row"], cur["col"]) == (2, len("        raise "))
    assert st["lines"] == before  # virtual until accepted
    assert nv.lua("return require('dg_lsp').accept()") is True
    lines = nv.state()["lines"]
    assert lines == _applied(before, 2, len("        raise "), cur["text"])
    ast.parse("\n".join(lines))


def test_embedded_dismiss_clears_ghost_text(nv_embedded: Editor, tmp_path):
    nv = nv_embedded
    before = nv.open(tmp_path / "d.py", RAISE_SRC, 2)["lines"]
    assert nv.trigger()["visible"]
    nv.lua("require('dg_lsp').dismiss()")
    st = nv.state()
    assert not st["visible"] and st["marks"] == 0 and st["lines"] == before
    assert nv.lua("return require('dg_lsp').accept()") is False


# a hole where the embedded model's sampled alternatives differ (after `import ` they can all be `os`)
RETURN_SRC = "def area(w, h):\n    return \n"


def test_embedded_next_cycles_the_alternatives(nv_embedded: Editor, tmp_path):
    nv = nv_embedded
    before = nv.open(tmp_path / "n.py", RETURN_SRC, 1)["lines"]
    st = nv.trigger(min_count=2)
    first, count = st["current"]["text"], st["current"]["count"]
    nv.lua("require('dg_lsp').next()")
    st = nv.state()
    assert st["current"]["index"] == 2 and st["current"]["text"] != first
    second = st["current"]["text"]
    nv.lua("for _ = 1, " + str(count) + " do require('dg_lsp').next() end")
    assert nv.state()["current"]["text"] == second  # a full cycle comes back
    assert nv.lua("return require('dg_lsp').accept()") is True
    lines = nv.state()["lines"]
    assert lines == _applied(before, 1, len("    return "), second)
    ast.parse("\n".join(lines))  # alternatives that break the file are dropped when one does not


def test_embedded_code_action_applies(nv_embedded: Editor, tmp_path):
    lines = _fill_hole_marker_by_code_action(nv_embedded, tmp_path)
    assert lines[1] != "    total = "  # the model wrote something


def test_embedded_suggestion_not_applied_after_the_buffer_changed(nv_embedded: Editor, tmp_path):
    nv = nv_embedded
    before = nv.open(tmp_path / "s.py", RAISE_SRC, 2)["lines"]
    assert nv.trigger()["visible"]
    ok = nv.lua("vim.api.nvim_buf_set_lines(0, 0, 1, false, {'def verify(x):'}); "
                "return require('dg_lsp').accept()")
    assert ok is False
    st = nv.state()
    assert not st["visible"] and st["lines"] == ["def verify(x):"] + before[1:]


def test_alternatives_code_action_applies_the_picked_one(nv: Editor, tmp_path):
    # The random model's three alternatives for this statement tie on parse errors, so the server keeps
    # all three (it drops those that add errors when another does not).
    src = "def add(a, b):\n    total = a - b  # the sum\n    return total\n"
    nv.open(tmp_path / "alt.py", src, 1, insert_at_end=False)
    nv.lua("DgTest.pick_code_action('alternative 2')")
    nv.lua("require('dg_lsp').alternatives()")
    st = nv.wait("#(DgTest.offered or {}) > 0 and table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n') "
                 f"~= {src.rstrip(chr(10))!r}", 120_000, "an alternative to be applied")
    offered = nv.lua("return DgTest.offered")
    assert offered and all("alternative" in t for t in offered), offered  # only alternatives were asked for
    assert st["lines"][0] == "def add(a, b):"


def test_fix_line_command_rewrites_the_line(nv: Editor, tmp_path):
    src = "def add(a, b):\n    total = a +* b\n    return total\n"
    nv.open(tmp_path / "fix.py", src, 1, insert_at_end=False)
    nv.nvim.command("DgLspFixLine")
    st = nv.wait("vim.api.nvim_buf_get_lines(0, 1, 2, false)[1] ~= '    total = a +* b'", 120_000, "the line to be rewritten")
    assert st["lines"][0] == "def add(a, b):"


def test_accept_word_and_line_take_the_suggestion_piecewise(nv: Editor, tmp_path):
    before = nv.open(tmp_path / "a.py", SRC, RETURN_LINE)["lines"]
    col0 = len("    return ")
    st = nv.trigger()
    text = st["current"]["text"]
    mark = st["mark_id"]
    assert nv.lua("return require('dg_lsp').accept_word()") is True
    st = nv.state()
    buf = "\n".join(st["lines"])
    start = "\n".join(before[:RETURN_LINE] + [before[RETURN_LINE]])
    inserted = buf[len(start):len(buf) - len("\n".join(before[RETURN_LINE + 1:])) - 1]
    assert inserted and text.startswith(inserted), (inserted, text)
    if st["visible"]:
        # The rest stays on screen, at the new cursor, in the same extmark.
        assert st["current"]["text"] == text[len(inserted):]
        assert st["mark_id"] == mark
        assert [st["current"]["row"], st["current"]["col"]] == st["cursor"]
    # Word and line steps, alternately, until nothing is left: together they insert exactly the text.
    for step in range(500):
        if not nv.state()["visible"]:
            break
        fn = "accept_line" if step % 2 else "accept_word"
        assert nv.lua(f"return require('dg_lsp').{fn}()") is True
    else:
        raise AssertionError("the suggestion never ran out")
    assert nv.state()["lines"] == _applied(before, RETURN_LINE, col0, text)


def test_ghost_renderer_multiline_and_rest_of_line(nv: Editor, tmp_path):
    """The renderer alone (no server): first line at the cursor, further lines as virt_lines, and on
    0.7 the real rest of the line repainted after the ghost (single line) or after the last line."""
    (tmp_path / "r.txt").write_text("foo(bar)\n")
    nv.nvim.command(f"edit {tmp_path / 'r.txt'}")
    d = nv.lua("""
      local g = require('dg_lsp.ghost')
      local id = g.show(0, 0, 4, 'x, y\\n  z', 'DgLspGhostText')
      local m = vim.api.nvim_buf_get_extmark_by_id(0, g.ns, id, { details = true })
      local one = g.show(0, 0, 4, 'q, ', 'DgLspGhostText', id)
      local m1 = vim.api.nvim_buf_get_extmark_by_id(0, g.ns, one, { details = true })
      return { multi = m, single = m1, same = (one == id), rendered = g.rendered(0) }
    """)
    multi, single = d["multi"], d["single"]
    assert d["same"] and d["rendered"] == "q, "  # updated in place; the virt_lines are gone
    assert multi[0:2] == [0, 4] and single[0:2] == [0, 4]
    assert [c[0] for c in multi[2]["virt_lines"][0]][0] == "  z"
    if nv.label == "0.7":
        assert multi[2]["virt_text_pos"] == "overlay"
        # The first ghost line blanks the rest of the line, which reappears after the last ghost line.
        assert [c[0] for c in multi[2]["virt_text"]] == ["x, y", ""]  # "bar)" is as wide as "x, y": no padding
        assert [c[0] for c in multi[2]["virt_lines"][0]] == ["  z", "bar)"]
        assert [c[0] for c in single[2]["virt_text"]] == ["q, ", "bar)"]
    else:
        assert multi[2]["virt_text_pos"] == "inline" and single[2]["virt_text_pos"] == "inline"
        assert [c[0] for c in single[2]["virt_text"]] == ["q, "]


def test_charwise_selection_after_astral_characters_fills_the_right_span(nv: Editor, tmp_path):
    """Positions go to the server in its negotiated encoding (UTF-16 by default): an emoji (two
    UTF-16 units, four bytes) and an é before the selection must not shift the filled span."""
    src = 'tag = "é😀"; value = AAAA\nprint(tag, value)\n'
    nv.open(tmp_path / "u.py", src, 0, insert_at_end=False)
    start = 'tag = "é😀"; value = '
    nv.nvim.command(f"call cursor(1, {len(start.encode()) + 1})")
    nv.nvim.input("v3l<Esc>")
    nv.wait("vim.api.nvim_get_mode().mode == 'n' and vim.fn.visualmode() == 'v'", 10_000, "charwise selection")
    enc = nv.lua("return require('dg_lsp.lsp').encoding(require('dg_lsp.lsp').client(0))")
    ranges = nv.lua("return require('dg_lsp.actions').visual_ranges(0, 'v', ...)", enc)
    units = {"utf-16": len(start.encode("utf-16-le")) // 2, "utf-8": len(start.encode()), "utf-32": len(start)}[enc]
    assert ranges == [{"start": {"line": 0, "character": units}, "end": {"line": 0, "character": units + 4}}]
    nv.nvim.command("DgLspFill")
    st = nv.wait("not vim.api.nvim_buf_get_lines(0, 0, 1, false)[1]:find('AAAA', 1, true)", 120_000, "the span to be filled")
    assert "\n".join(st["lines"]).startswith(start)
    assert st["lines"][-1] == "print(tag, value)"


def test_item_normalisation_edge_cases(nv: Editor):
    """Server items with ranges (which dg-lsp's own ghost text does not use, but the protocol allows):
    text already typed is skipped, a reproduced rest-of-line is kept, off-line ranges are dropped."""
    r = nv.lua("""
      local n = require('dg_lsp.items').normalize
      local line = '  foo(bar)'   -- cursor at byte 5, after '  foo'
      local function rng(s, e) return { start = { line = 3, character = s }, ['end'] = { line = 3, character = e } } end
      return {
        plain = n({ insertText = '(x)' }, 3, 5, line, 'utf-16'),
        typed = n({ insertText = 'foo.baz', range = rng(2, 5) }, 3, 5, line, 'utf-16'),
        disagree = n({ insertText = 'fox.baz', range = rng(2, 5) }, 3, 5, line, 'utf-16') or vim.NIL,
        reproduced = n({ insertText = '(bar, 1)(bar)', range = rng(5, 10) }, 3, 5, line, 'utf-16'),
        replaces = n({ insertText = '[1]', range = rng(5, 10) }, 3, 5, line, 'utf-16'),
        other_line = n({ insertText = 'x', range = { start = { line = 2, character = 0 }, ['end'] = { line = 3, character = 5 } } }, 3, 5, line, 'utf-16') or vim.NIL,
        snippet = n({ insertText = { kind = 'snippet', value = '(${1:a}, $2)$0' } }, 3, 5, line, 'utf-16'),
        empty = n({ insertText = 'foo', range = rng(2, 5) }, 3, 5, line, 'utf-16') or vim.NIL,
        word = { require('dg_lsp.items').first_word('  total = 1'), require('dg_lsp.items').first_word('(a, b)') },
        line1 = { require('dg_lsp.items').first_line('a + b\\n    c'), require('dg_lsp.items').first_line('\\n    c\\nd') },
      }
    """)
    assert r["plain"] == {"text": "(x)", "tail": 0}
    assert r["typed"] == {"text": ".baz", "tail": 0}
    assert r["disagree"] is None
    assert r["reproduced"] == {"text": "(bar, 1)", "tail": 0}
    assert r["replaces"] == {"text": "[1]", "tail": 5}
    assert r["other_line"] is None
    assert r["snippet"] == {"text": "(a, )", "tail": 0}
    assert r["empty"] is None
    assert r["word"] == ["  total", "("]
    assert r["line1"] == ["a + b", "\n    c"]


def test_one_server_for_buffers_under_different_roots(nv: Editor, tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    nv.open(tmp_path / "one" / "a.py", SRC, 0, insert_at_end=False)
    nv.nvim.command(f"cd {tmp_path / 'two'}")  # a new root (cwd) for the next buffer
    nv.open(tmp_path / "two" / "b.py", SRC, 0, insert_at_end=False)
    count = nv.lua("local all = vim.lsp.get_clients or vim.lsp.get_active_clients; "
                   "return #vim.tbl_filter(function(c) return c.name == 'dg_lsp' end, all())")
    assert count == 1  # the model is loaded once, whatever the buffer's root
