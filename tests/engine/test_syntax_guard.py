"""The syntax guard (engine/syntax.py): a finished canvas whose fills leave the document parsing worse
than with the holes empty is reopened at its first word, with that word forbidden. A scripted step
function stands in for the model, so what it would write is known."""
from __future__ import annotations

import pytest
import torch

from engine.api import Hole, InfillRequest, load_engine
from engine.syntax import SyntaxGuard

LINE = "    x = (1)"  # tokens: '   ', ' x', ' =', ' (', '1', ')'
BEFORE, AFTER = "def f():\n", "\n    return x\n"


@pytest.fixture(scope="module")
def engine():
    return load_engine("random:tiny")


def scripted(engine, first_word: str = " if", early_end: int | None = None, blank_second: bool = False):
    """Position k predicts the line's k-th token; after the line, only an end. `first_word` beats the
    line's first word (' x') at position 1; `early_end` makes an end beat the line from there on;
    `blank_second` makes an end the runner-up at position 1 (above ' x')."""
    backend = engine.backend
    ids = backend.encode(LINE)
    assert backend.decode(ids[:2]) == "    x"
    eom = min(backend.eom_ids)
    (word,) = backend.encode(first_word)

    def step(ctx, canvas, layout, positions=None):
        logits = torch.full((*canvas.shape, backend.vocab_size), -30.0)
        for k in range(canvas.shape[1]):
            if k < len(ids):
                logits[:, k, ids[k]] = 8.0
            if k >= len(ids) or (early_end is not None and k >= early_end):
                logits[:, k, eom] = 12.0 if k >= len(ids) else 9.0
        logits[:, 1, word] = 9.0
        if blank_second:
            logits[:, 1, eom] = 8.5
        return logits if positions is None else logits[:, positions]

    return step


def fill(engine, monkeypatch, retries: int, after: str = AFTER, language: str = "python", **script) -> str:
    monkeypatch.setattr(engine.backend, "step", scripted(engine, **script))
    monkeypatch.setattr(engine.sampler, "syntax_retries", retries)
    segments = [BEFORE, Hole(max_tokens=16, single_line=True), after]
    return engine.infill(InfillRequest(segments, language=language)).fills[0]


def test_our_models_have_the_guard_on():
    from engine.backends.native import NativeBackend

    assert NativeBackend.sampler_defaults["syntax_retries"] > 0


def test_a_wrong_first_word_is_taken_back(engine, monkeypatch):
    """`    if = (1)` does not parse; the guard forbids ` if` as the first word and the model writes
    the line it would otherwise have written."""
    assert fill(engine, monkeypatch, retries=0) == "    if = (1)"
    assert fill(engine, monkeypatch, retries=1) == LINE


def test_the_reopened_fill_may_not_end_where_its_first_word_was(engine, monkeypatch):
    """With ` if` forbidden, the model's next choice is to end the fill: a blank line parses, but it
    fills nothing, so an end is forbidden there too."""
    assert fill(engine, monkeypatch, retries=1, blank_second=True) == LINE


def test_out_of_retries_the_earliest_fewest_errors_canvas_is_kept(engine, monkeypatch):
    """Both fills stop at `(` (one error each): the guard hands back the model's first fill."""
    guard = SyntaxGuard.build("python", [BEFORE, AFTER], [True])
    assert guard.errors(["    x = ("]) == guard.errors(["    if = ("]) > guard.baseline
    assert fill(engine, monkeypatch, retries=1, early_end=4) == "    if = ("


def test_a_document_broken_elsewhere_is_judged_against_its_empty_hole(engine, monkeypatch):
    """A later function has its own error: the fill is held to 'adds no errors', so the guard still
    takes back the wrong first word, and does not chase the error it cannot fix."""
    after = AFTER + "\ndef g(:\n    pass\n"
    assert SyntaxGuard.build("python", [BEFORE, after], [True]).baseline > 0
    assert fill(engine, monkeypatch, retries=4, after=after) == LINE


def test_no_grammar_no_guard(engine, monkeypatch):
    assert SyntaxGuard.build("plaintext", ["a", "b"], [True]) is None
    assert fill(engine, monkeypatch, retries=4, language="plaintext") == "    if = (1)"


def test_the_guard_reads_single_line_fills_up_to_their_newline():
    guard = SyntaxGuard.build("python", ["def f():\n", "\n    return 1\n"], [True])
    assert guard.document(["    y = 2\n    junk ("]) == "def f():\n    y = 2\n    return 1\n"
    assert guard.errors(["    y = 2\n    junk ("]) == 0


def test_the_guard_stops_reopening_when_the_pass_budget_is_spent(engine, monkeypatch):
    """A request that has used its passes keeps the model's fill: the guard costs at most
    `syntax_pass_budget` passes before its last reopening."""
    monkeypatch.setattr(engine.sampler, "syntax_pass_budget", 1)
    assert fill(engine, monkeypatch, retries=1) == "    if = (1)"


def ranked(engine, line: str, runners_up: list[str], at: int = 1):
    """Position k predicts `line`'s k-th token (8.0); at position `at` `runners_up` rank above it,
    best first (9.0, 8.9, …); after the line, only an end."""
    backend = engine.backend
    ids = backend.encode(line)
    eom = min(backend.eom_ids)
    words = [backend.encode(w) for w in runners_up]
    assert all(len(w) == 1 for w in words)

    def step(ctx, canvas, layout, positions=None):
        logits = torch.full((*canvas.shape, backend.vocab_size), -30.0)
        for k in range(canvas.shape[1]):
            if k < len(ids):
                logits[:, k, ids[k]] = 8.0
            else:
                logits[:, k, eom] = 12.0
        for rank, (w,) in enumerate(words):
            logits[:, at, w] = 9.0 - rank / 10
        return logits if positions is None else logits[:, positions]

    return step


def kind_fill(engine, monkeypatch, step, after: str, retries: int = 1) -> str:
    monkeypatch.setattr(engine.backend, "step", step)
    monkeypatch.setattr(engine.sampler, "syntax_retries", retries)
    return engine.infill(InfillRequest([BEFORE, Hole(max_tokens=16, single_line=True), after])).fills[0]


def test_a_block_header_over_a_line_no_deeper_is_restarted_with_every_header_forbidden(engine, monkeypatch):
    """The next line is not deeper, so the line must not open a block: after `    if = (1)` the
    guard forbids every block keyword at the first word, not just ` if` (which let the model write
    ` for` next)."""
    import dataclasses

    import dg_lsp.languages as languages

    step = ranked(engine, LINE, [" if", " for", " while"])
    assert kind_fill(engine, monkeypatch, step, AFTER, retries=0) == "    if = (1)"
    assert kind_fill(engine, monkeypatch, step, AFTER) == LINE
    # Without the rule one word goes at a time: the restart writes `    for = (1)`, as broken, and
    # out of retries the earliest of the two is kept.
    monkeypatch.setitem(languages.SPECS, "python", dataclasses.replace(languages.SPECS["python"], headers=frozenset()))
    assert kind_fill(engine, monkeypatch, step, AFTER) == "    if = (1)"
    assert kind_fill(engine, monkeypatch, step, AFTER, retries=3) == LINE  # if, for, while, then x


def test_a_plain_line_over_a_deeper_one_is_restarted_as_a_block_header(engine, monkeypatch):
    """The next line is deeper, so the line opens a block: `    y x:` does not parse; the guard
    lets only block keywords start it, and the model writes `    if x:`."""
    step = ranked(engine, "    if x:", [" y", " z"])
    after = "\n        return x\n"
    assert kind_fill(engine, monkeypatch, step, after, retries=0) == "    y x:"
    assert kind_fill(engine, monkeypatch, step, after) == "    if x:"


def test_opens_block_reads_the_next_non_blank_line():
    guard = SyntaxGuard.build("python", ["def f():\n", "\n\n        return 1\n"], [True])
    assert guard.opens_block(0, "    if x:") is True
    assert guard.opens_block(0, "        y = 1") is False
    assert guard.opens_block(0, "   ") is None  # a blank line has no kind
    assert SyntaxGuard.build("python", ["def f():\n", "\n"], [True]).opens_block(0, "    x") is False  # no body possible
    assert SyntaxGuard.build("python", ["a\n", "b"], [False]).opens_block(0, "x") is None
    assert SyntaxGuard.build("javascript", ["f() {\n", "\n    g();\n"], [True]).opens_block(0, "  x") is None


def test_python_fills_are_judged_by_pythons_parser_where_they_are():
    """tree-sitter accepts a block header over a line that is not deeper (an empty `block`) and a
    stray indent; Python's parser does not, and its first error says whose fault it is."""
    guard = SyntaxGuard.build("python", [BEFORE, AFTER], [True])
    assert guard.errors(["    for c in xs:"]) == guard.baseline == 0  # tree-sitter: fine
    assert guard.judge(["    for c in xs:"])[0] == guard.judge(["        y = 1"])[0] == (0,)
    assert guard.judge([LINE])[:3] == ((), (0, 0, 0), ())
    # Python reports the missing block at the next line that is not blank
    spaced = SyntaxGuard.build("python", [BEFORE, "\n\n\n    return x\n"], [True])
    assert spaced.judge(["    for c in xs:"])[0] == (0,) and spaced.judge([LINE])[0] == ()
    # an error further down is not the fill's: judged fine, whatever the fill
    below = SyntaxGuard.build("python", [BEFORE, AFTER + "\n\ndef g(:\n    pass\n"], [True])
    assert not below.judge([LINE])[0] and below.judge(["    for c in xs:"])[0]
    # an error above the hole hides the rest from Python: tree-sitter's count against the empty hole
    above = SyntaxGuard.build("python", ["def g(:\n    pass\n\n" + BEFORE, AFTER], [True])
    assert not above.judge([LINE])[0] and above.judge(["    if = (1)"])[0]


def test_a_header_the_old_guard_let_through_is_rewritten_as_a_statement(engine, monkeypatch):
    """`    for c in xs:` over `    return x` parses for tree-sitter; Python's parser calls it
    broken, and with every block keyword forbidden at the first word the model writes its
    runner-up line, `    total = 0`."""
    backend = engine.backend
    header, plain = backend.encode("    for c in xs:"), backend.encode("    total = 0")
    assert header[0] == plain[0] and backend.decode(header[:2]) == "    for"
    eom = min(backend.eom_ids)

    def step(ctx, canvas, layout, positions=None):
        logits = torch.full((*canvas.shape, backend.vocab_size), -30.0)
        logits[:, 0, header[0]] = 9.0
        logits[:, 1, header[1]], logits[:, 1, plain[1]] = 9.0, 8.0
        for row in range(canvas.shape[0]):  # the rest follows the first word; unsure before it
            first = int(canvas[row, 1])
            for k in range(2, canvas.shape[1]):
                for line in [header, plain] if first == backend.mask_id else [plain if first == plain[1] else header]:
                    logits[row, k, line[k] if k < len(line) else eom] = 9.0
        return logits if positions is None else logits[:, positions]

    assert kind_fill(engine, monkeypatch, step, AFTER, retries=0) == "    for c in xs:"
    assert kind_fill(engine, monkeypatch, step, AFTER) == "    total = 0"


def test_python_blames_the_hole_whose_lines_hold_the_error():
    """Two holes: the first error's line names the hole to reopen; the other keeps its fill."""
    guard = SyntaxGuard.build("python", [BEFORE, "\n    y = 2\n", AFTER], [True, True])
    assert guard.judge([LINE, "    for c in xs:"])[0] == (1,)
    assert guard.judge(["    if = (1)", LINE])[0] == (0,)
    assert guard.judge([LINE, LINE])[0] == ()
    ts = SyntaxGuard.build("python", ["def g(:\n" + BEFORE, AFTER, AFTER], [True, True])  # error above: no line to go by
    assert ts.judge(["    if = (1)", LINE])[0] == (0, 1)


def test_a_wrong_indentation_is_rewritten_from_the_lines_start(engine, monkeypatch):
    """The model indents the line too deep (`unexpected indent` on the fill's own line): the guard
    blames the indentation, not the first word, and reopens the hole from its first token."""
    backend = engine.backend
    line, deep = backend.encode(LINE), backend.encode("    " + LINE)
    assert deep[1:] == line[1:] and deep[0] != line[0]
    guard = SyntaxGuard.build("python", [BEFORE, AFTER], [True])
    assert guard.judge(["    " + LINE])[2] == (0,) and guard.judge(["    for c in xs:"])[2] == ()
    # a header on the last line lacks its body on its own line: its kind, not its indentation
    last = SyntaxGuard.build("python", ["def f():\n    if a:\n        return 1\n", "\n"], [True])
    assert last.judge(["    else:"])[0] == (0,) and last.judge(["    else:"])[2] == ()
    assert SyntaxGuard.build("python", ["def f():\n    if a:\n", "\n"], [True]).judge(["    x = 1"])[2] == (0,)
    eom = min(backend.eom_ids)

    def step(ctx, canvas, layout, positions=None):
        logits = torch.full((*canvas.shape, backend.vocab_size), -30.0)
        logits[:, 0, deep[0]], logits[:, 0, line[0]] = 9.0, 8.0
        for k in range(1, canvas.shape[1]):
            logits[:, k, line[k] if k < len(line) else eom] = 9.0
        return logits if positions is None else logits[:, positions]

    assert kind_fill(engine, monkeypatch, step, AFTER, retries=0) == "    " + LINE
    assert kind_fill(engine, monkeypatch, step, AFTER) == LINE


def test_a_try_without_handler_is_blamed_on_the_fill_that_wrote_it():
    """Python reports a missing `except` where the try's block ends, past the fill's window."""
    guard = SyntaxGuard.build("python", [BEFORE, "\n        y = 1\n        z = 2\n    return y\n"], [True])
    assert guard.judge(["    try:"])[0] == (0,)
    assert guard.judge(["    if y:"])[0] == ()


def test_an_error_further_down_is_the_fills_when_a_stand_in_line_mends_it():
    """`    else:` where `elif …:` belongs parses up to the chain's next `else:`, two lines past the
    fill's window; a stand-in line there (`if True:`) lets the document parse, so the fill is at
    fault (its first word, not its indentation). An error no line there mends is not the fill's."""
    before = "def f(a, b):\n    if a:\n        x = 1\n"
    after = "\n        x = 2\n    else:\n        x = 3\n    return x\n"
    guard = SyntaxGuard.build("python", [before, after], [True])
    assert guard.judge(["    else:"])[:3] == ((0,), (1, guard.errors(["    else:"]), 0), ())
    assert guard.judge(["    elif b:"]).faulty == ()
    broken = SyntaxGuard.build("python", [before, after + "\ndef g(:\n    pass\n"], [True])
    assert broken.judge(["    else:"]).faulty == (0,)
    assert broken.judge(["    elif b:"]).faulty == ()  # `def g(:` is no fill's fault
    # the probe needs a hole that starts its line: after typed text it stays out
    typed = SyntaxGuard.build("python", [before + "    el", after], [True])
    assert typed.judge(["se:"]).faulty == ()


def test_a_line_that_fits_nowhere_at_its_indentation_is_rewritten_from_its_start():
    """A statement at the `if`'s level between its body and its `else:` breaks the chain, whatever
    the statement: no stand-in line parses at that indentation, one a level deeper does, so the
    guard blames the indentation (the hole is reopened from its first token)."""
    before = "def f(a):\n    if a:\n        x = 1\n"
    after = "\n    else:\n        x = 2\n    return x\n"
    guard = SyntaxGuard.build("python", [before, after], [True])
    assert guard.judge(["    y = 2"]).faulty == guard.judge(["    y = 2"]).indent == (0,)
    assert guard.judge(["        y = 2"]).faulty == ()
    assert guard.judge(["    y = (2"]).indent == (0,)



def test_a_typed_line_that_stopped_too_soon_is_continued_where_it_ended(engine, monkeypatch):
    """The user typed `    x =`; the model writes ` (1` and ends: the bracket is never closed. The
    line's start is the user's, so the guard reopens the hole where the fill ended, with an end
    forbidden there, and the model writes on (`)`). A typed header over a line no deeper is
    continued too (`if n == 1:` wants its body after the colon). Where the model wrote the whole
    line, or all but its indentation, it is rewritten instead."""
    typed = SyntaxGuard.build("python", [BEFORE + "    x =", AFTER], [True])
    assert typed.judge([" (1"]).ends == typed.judge([' "1']).ends == (0,)
    assert typed.judge([" 1)"]).faulty == (0,) and typed.judge([" 1)"]).ends == ()
    header = SyntaxGuard.build("python", [BEFORE + "    if", AFTER], [True])
    assert header.judge([" x:"]).ends == (0,) and header.judge([" True: y = 1"]).faulty == ()
    whole = SyntaxGuard.build("python", [BEFORE, AFTER], [True])
    assert whole.judge(["    x = (1"]).faulty == (0,) and whole.judge(["    x = (1"]).ends == ()
    indented = SyntaxGuard.build("python", [BEFORE + "    ", AFTER], [True])  # after auto-indent
    assert indented.judge(["x = (1"]).faulty == (0,) and indented.judge(["x = (1"]).ends == ()

    monkeypatch.setattr(engine.backend, "step", scripted(engine, first_word=" x", early_end=5))
    segments = [BEFORE + "    x =", Hole(max_tokens=16, single_line=True), AFTER]
    for retries, want in ((0, " (1"), (1, " (1)")):
        monkeypatch.setattr(engine.sampler, "syntax_retries", retries)
        assert engine.infill(InfillRequest(segments, language="python")).fills[0] == want
    monkeypatch.setattr(engine.sampler, "syntax_continue", 0)  # rewritten from its first token instead
    assert engine.infill(InfillRequest(segments, language="python")).fills[0] != " (1)"


def test_a_name_defined_nowhere_is_the_fills_fault():
    """A Python fill may not read a name that the document defines nowhere (no assignment,
    parameter, import, def or class, in any scope) and Python does not provide; the verdict says
    where in the fill the name starts, and ranks such a fill between a clean one and one that breaks
    the parse. Names defined further down, attributes and builtins are fine; a star import, whose
    names are unknown, turns the check off, and so does `names=False`."""
    texts = ["import os\n\ndef f(xs):\n    total = 0\n", "\n    return total\n\ndef helper(v):\n    return v\n"]
    guard = SyntaxGuard.build("python", texts, [True])
    for ok in ("    total += sum(xs)", "    total = helper(xs) + os.sep.count(xs.summ)", "    for x in xs: total += x"):
        assert guard.judge([ok]).faulty == (), ok
    bad = guard.judge(["    total += summ(xs)"])
    assert bad.faulty == (0,) and bad.names == ((0, 13),) and bad.indent == bad.ends == ()
    broken = guard.judge(["    total += (xs"])
    assert guard.judge(["    total += sum(xs)"]).key < bad.key < broken.key and broken.names == ()
    assert SyntaxGuard.build("python", ["from m import *\n" + texts[0], texts[1]], [True]).judge(
        ["    total += summ(xs)"]).faulty == ()
    assert SyntaxGuard.build("python", texts, [True], names=False).judge(["    total += summ(xs)"]).faulty == ()
    # a name the server saw outside its window (InfillRequest.names) counts as defined
    assert SyntaxGuard.build("python", texts, [True], known=frozenset({"summ"})).judge(
        ["    total += summ(xs)"]).faulty == ()
    multi = SyntaxGuard.build("python", texts, [False])  # a multi-line fill: the offset counts its newlines
    assert multi.judge(["    total = 1\n    total += summ(xs)\n"]).names == ((0, 27),)


def test_a_name_defined_nowhere_is_rewritten_from_that_token(engine, monkeypatch):
    """The model would write `    x = (q)`, reading a `q` that nothing defines: the guard forbids `q`
    where it stands and the model writes the rest as before, `    x = (1)`. With the name check
    off the fill stands."""
    monkeypatch.setattr(engine.backend, "step", ranked(engine, LINE, ["q"], at=4))  # `q` above '1'
    monkeypatch.setattr(engine.sampler, "syntax_retries", 2)
    segments = [BEFORE, Hole(max_tokens=16, single_line=True), AFTER]
    assert engine.infill(InfillRequest(segments, language="python")).fills[0] == LINE
    monkeypatch.setattr(engine.sampler, "name_guard", False)
    assert engine.infill(InfillRequest(segments, language="python")).fills[0] == "    x = (q)"


# ---- the last resort: a multi-line fill the suffix cannot follow goes on a line at a time ----------

PAREN_BEFORE = "def depth(s):\n    d = 0\n"
PAREN_AFTER = "\n            d += 1\n        elif c == ')':\n            d -= 1\n    return d\n"


def test_outline_reads_the_levels_a_text_leaves_open():
    from engine.syntax import outline

    assert outline(PAREN_BEFORE + "    for c in s:") == ((0, 4), True, "", ("def", "for"))
    assert outline(PAREN_BEFORE + "    for c in s:\n        if c == '(':\n            d += 1\n").stack == (0, 4, 8, 12)
    assert outline("def f():\n    d = {\n        'a': 1,\n").closers == "}"
    assert outline("def f():\n    x = g([1,\n").closers == "])"
    assert outline("def f():\n        x = 1\n      y = 2\n") is None  # a level never opened
    assert outline('def f():\n    """open\n') is None  # a string left open
    assert outline("def f():\n\tif a:\n") is None  # tabs: the rule stays out


def test_needs_reads_the_levels_a_suffix_returns_to():
    from engine.syntax import needs

    assert needs(PAREN_AFTER) == (12, frozenset({12, 8, 4}), {8: "elif"})
    assert needs("\n    else:\n        x = 2\n") == (4, frozenset({4}), {4: "else"})
    assert needs("\n        if a:\n            b()\n        return 1\n") == (8, frozenset({8}), {})
    assert needs("\n\n   \n") is None  # no code
    assert needs("\n        x = 1\n            y = 2\n          z = 3\n") is None  # its own levels do not match
    assert needs("\n        x = 1\n            y = 2\n      z = 3\n") == (8, frozenset({8, 6}), {})  # 6: from before it


def test_next_line_says_what_a_multi_line_fill_must_write_next():
    """Only where the document does not parse; each answer is one line."""
    from engine.syntax import FOLLOWS, NextLine

    def plan(before, fill, after):
        guard = SyntaxGuard.build("python", [before, after], [False])
        exc = guard._python_error(guard.document([fill]))
        return None if exc is None else guard.next_line([fill], 0, exc)

    # a header whose block the suffix needs deeper, with an `elif` at the next level: an `if` there
    assert plan(PAREN_BEFORE, "    for c in s:", PAREN_AFTER) == NextLine("        ", True, frozenset({"if"}))
    assert plan(PAREN_BEFORE, "    for c in s:\n        if c == '(':", PAREN_AFTER) is None  # parses: the suffix is its block
    # a `for` the suffix's `elif` cannot follow is written again, from its first word, as one it can
    again = plan(PAREN_BEFORE, "    while s:\n        for c in s:", PAREN_AFTER)
    assert again.indent == "        " and again.rewrite == len("    while s:\n        ") and again.words == {"if", "elif"}
    # two levels to open, no clause: a header of a block of its own (not `else:`), then its block
    deeper = "\n            d += 1\n        d -= 1\n    return d\n"
    spec = SyntaxGuard.build("python", ["", ""], [False]).headers
    assert plan(PAREN_BEFORE, "    while s:", deeper) == NextLine("        ", True, spec - set(FOLLOWS))
    assert plan(PAREN_BEFORE, "    while s:\n        d -= 1", deeper) == NextLine("        ", True, spec - set(FOLLOWS), 21)
    # a statement where the block's header belongs: that line is written again as a header
    assert plan(PAREN_BEFORE, "    return s", PAREN_AFTER) == NextLine("    ", True, spec - set(FOLLOWS), 4)
    # a header with no block before the suffix's `else:` gets its block
    assert plan("def f(a):\n", "    if a:", "\n    else:\n        return 2\n") == NextLine("        ", False)
    # a header the suffix's clause cannot follow is written again as one it can
    clause = plan("def f(a):\n    if a:\n        x = 0\n", "    else:", "\n        x = 1\n    elif a:\n        x = 2\n")
    assert clause == NextLine("    ", True, frozenset({"if", "elif"}), 4)
    assert plan("def f(a):\n    x = 0\n", "    else:", "\n        x = 1\n") is None  # its own line is broken
    # a `try:` block the suffix leaves without a handler gets its `except`
    assert plan("def f():\n    try:\n", "        x = g()", "\n    return x\n") == NextLine("    ", True, frozenset({"except"}))
    # a literal the suffix does not close is closed on its own line, under its statement
    assert plan("def f():\n    d = {\n", "        'a': 1,", "\n    return d\n") == NextLine("    ", close="}")
    # what the rule leaves alone: a single-line hole, another language, a broken line of the fill's own
    single = SyntaxGuard.build("python", [PAREN_BEFORE, PAREN_AFTER], [True])
    assert single.next_line(["    for c in s:"], 0, single._python_error(single.document(["    for c in s:"]))) is None
    assert SyntaxGuard.build("javascript", ["f() {\n", "\n}\n"], [False]).next_line(["  if (", ""], 0, SyntaxError("x")) is None
    assert plan(PAREN_BEFORE, "    for c in s\n", PAREN_AFTER) is None


def test_the_guard_plans_only_when_asked():
    guard = SyntaxGuard.build("python", [PAREN_BEFORE, PAREN_AFTER], [False])
    plain, planned = guard.judge(["    for c in s:"]), guard.judge(["    for c in s:"], plan=True)
    assert plain.broken and planned.broken and plain.lines == () and planned.lines
    assert plain[:5] == planned[:5]  # the verdict the guard's loop acts on is the same
    assert not guard.judge(["    for c in s:\n        if c == '(':"], plan=True).broken


def lines_script(engine, fill: str, then: str):
    """The model writes `fill` and ends; asked for a line after it, it writes `then` there
    (position k of the canvas predicts the k-th token of fill + then below an end), but for the
    new line's first word, where it would rather write ` x`."""
    backend = engine.backend
    first, rest = backend.encode(fill), backend.encode(fill + then)
    eom = min(backend.eom_ids)

    def step(ctx, canvas, layout, positions=None):
        logits = torch.full((*canvas.shape, backend.vocab_size), -30.0)
        for k in range(canvas.shape[1]):
            if k < len(first):
                logits[:, k, first[k]] = 9.0
                continue
            if k < len(rest):
                logits[:, k, rest[k]] = 8.0
            logits[:, k, eom] = 12.0 if k == len(first) or k >= len(rest) else 0.0  # it ends after `fill`
        logits[:, len(first) + 1, backend.encode(" x")[0]] = 8.5  # a plain word above the header
        return logits if positions is None else logits[:, positions]

    return step


def test_the_last_resort_writes_the_block_the_suffix_needs(engine, monkeypatch):
    """`    for c in s:` alone leaves `elif` at the wrong level: the guard's window rules accept it
    (the error lies past the fill), so before, the fill came back broken. The last resort commits
    the next line's newline and indentation and asks for an `if` (the suffix's `elif` follows it,
    so ` x`, the model's first choice there, is not allowed); the model writes the line, and the
    suffix is its block."""
    backend = engine.backend
    fill, then = "    for c in s:", "\n        if c == '(':"
    monkeypatch.setattr(engine.backend, "step", lines_script(engine, fill, then))
    request = InfillRequest([PAREN_BEFORE, Hole(max_tokens=64, single_line=False), PAREN_AFTER], language="python")
    monkeypatch.setattr(engine.sampler, "syntax_lines", 0)
    assert engine.infill(request).fills[0] == fill
    monkeypatch.setattr(engine.sampler, "syntax_lines", 6)
    out = engine.infill(request).fills[0]
    assert out == fill + then
    compile(PAREN_BEFORE + out + PAREN_AFTER, "<t>", "exec")
    # the newline and the indentation are one token before a word, as the tokenizer writes them
    assert backend.encode(fill + "\n        if")[len(backend.encode(fill))] == backend.encode("\n       ")[0]


def test_a_broken_later_line_is_taken_back_where_it_broke():
    """The last resort keeps a multi-line fill's good lines: a later line that stopped unfinished is
    written on from its end, one with a string left open again from the quote, any other again from
    its first word; the fill's first line is left to the guard's own rules."""
    guard = SyntaxGuard.build("python", ["def f(s):\n", "\n    return s\n"], [False])

    def starts(fill):
        return guard.judge([fill], plan=True).starts

    assert starts("    for c in s:\n        if c == 1") == ((0, len("    for c in s:\n        if c == 1"), True),)
    assert starts("    for c in s:\n        if c == \":") == ((0, len("    for c in s:\n        if c == "), False),)
    assert starts("    for c in s:\n        x = = 1") == ((0, len("    for c in s:\n        "), False),)
    assert starts("    x = = 1\n") == ()
    assert guard.judge(["    for c in s:\n        if c == 1"]).starts == ()  # only when asked
