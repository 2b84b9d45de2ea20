"""The syntax guard: a fill may not break the document where the fill is.

Grammar-checked decoding, checked where it is cheap to check: when a canvas is complete (every
position committed), the document is parsed with the fills in place and judged (`judge`). If the
fills broke it, each hole is reopened from its fill's first word and that word, and an end, are
forbidden at that position, so the model writes another line (`Engine._reopen` in
engine/runtime.py). This is part of decoding, not a filter: no fill is dropped or rewritten, the
model writes every token.

Python is judged by Python's own parser (`compile`, as `ast.parse`): a fill is bad when the first
syntax error lies on the fill's lines or on the first non-blank line after them (`for c in xs:`
over a line that is not indented deeper: "expected an indented block"; `total = 0` over a deeper
one: "unexpected indent"; a `try:` without handler, reported where its block ends).
tree-sitter's Python grammar accepts the first two (an empty `block`, a stray indent); on HumanEval it
passed 429 of 459 single-line fills that do not parse (BENCHMARKS.md, "Session 8"). An error above
the hole hides everything after it from the parser; there, and for every other language, the
tree-sitter grammar (the server's table in dg_lsp/languages.py, which imports no pygls) counts
errors and a fill is bad when the document has more than with every hole left empty, which keeps
the rule fair to a document already broken elsewhere (a user mid-edit, a context cut by the token
budget).

Where the first error is an indentation error on a fill's own first line, or a next line that
matches no indentation level, the fill's indentation (which the model writes when the hole starts
a line) is what is wrong: that hole is reopened from its first token, the indentation, with that
token forbidden there.

For a Python single-line hole that starts its line the guard also probes the place: it puts
stand-in lines there (`STAND_INS`: `pass`, `if True:`, `else:`, `except Exception:`, at the
indentations the lines around suggest) and parses again. An error past the fill's window is the
fill's when a stand-in gets the parse past it (`else:` where the chain goes on with `else:` below:
`elif …:` belonged there); an error in the window blames the fill's indentation when no stand-in at
that indentation parses and one at another does (a statement between an `if` body and its
`else:`). An error that no stand-in mends (a broken function further down) is not the fill's.

Where the user typed the line's start (the hole follows code on its line, not only indentation),
a fill whose line stopped unfinished — a bracket never closed, a string never ended, something
expected after its last character (`if (a == b`) — or that made the line a block header over a
line no deeper (`if n == 1:` where `if n == 1: return 1` belongs) is continued where it ended,
with an end, a blank token or a comment forbidden there, rather than rewritten (`Verdict.ends`):
the line's start is the user's, so rewriting could only change what follows it. Where the model
wrote the whole line, first word included, rewriting it measured better (BENCHMARKS.md, "Session 9").

A Python fill that parses may still not read a name the document defines nowhere — no assignment,
parameter, import, def or class of it in any scope, not a builtin (`_undefined`; `summ(xs)`,
`projet1_index`): a name that cannot exist makes the line fail when it runs. That hole is reopened
from the token where the name starts, with that token forbidden there (`Verdict.names`). The
check is loose on purpose (a name assigned in any function counts as defined) and off in a module
with a star import. On HumanEval single-line it caught 115 of the shipped model's 910 failing fills
that parse, and no canonical solution (BENCHMARKS.md, "Session 11"). A fill with such a name ranks
between a clean one and one the parse blames (`Verdict.key`), so the fallback prefers it to a broken
one.

The last resort (`next_line`, `Engine._last_resort` in engine/runtime.py), for a multi-line Python
fill that the guard's rules would hand back with the document broken. The model writes one line where
a block belongs (`    for c in s:` over a suffix that goes on at two levels deeper, then `elif`),
and rewriting its first word does not give it the lines it left out. What the suffix needs of the
fill can be read off it: the levels it returns to that none of its own lines opens must be open
when it starts (`needs`), and the fill's end leaves some open (`outline`). Where they differ, the
fill goes on a line at a time: the newline and indentation of the line the suffix needs are
committed (grammar-constrained decoding: they are the only ones that can work), and its first word
is held to what that line must be — a block header where a level must open (an `if` where the
suffix continues with `elif`, an `except` where it leaves a `try:` block), no header where it must
not; a closing bracket under its statement where the fill is inside a literal the suffix does not
close. The model writes the rest of each line. A line it leaves unfinished is written on, one it
breaks is written again. This runs only once the guard is done, and only on a canvas whose document
does not parse, so no fill that parsed before changes (BENCHMARKS.md, "Session 20").

In an indentation language the next line's indentation also tells what kind of line a single-line
hole holds: a deeper next line means it opens a block, any other means it must not. A bad fill of
the wrong kind is reopened with the whole kind forbidden at its first word — every block keyword, or
every other word — not just the word it had (`opens_block`; the keywords are the language's
`headers`): forbidding `if` alone let the model write `for … :` next.
"""
from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from typing import Any, NamedTuple

MAX_CHARS = 200_000  # a bigger document is not guarded: a parse per check would cost too much
PROBE_CHARS = 40_000  # a bigger one is not probed with stand-in lines (`SyntaxGuard._probe`)
_TRY = re.compile(r"\s*try\s*:")
_FIRST_WORD = re.compile(r"\s*([A-Za-z_]\w*)")
# Stand-ins for a Python line, one of each kind a line can be: what the probe puts in a hole to learn
# whether any line there, at an indentation, would let the document parse.
STAND_INS = ("pass", "if True:", "else:", "except Exception:")
# Names a Python module can read without defining them (`_undefined`).
# A clause line continues the statement before it at its level: where the suffix has one at a level the
# fill must open a block at, the fill's header there must be a statement the clause can follow (the
# header starts its block, so `elif` cannot be it; `else` may follow a loop too, but after `if` most often).
CLAUSES = {"elif": frozenset({"if"}), "else": frozenset({"if"}), "except": frozenset({"try"}),
           "finally": frozenset({"try"})}
# The statements a clause may continue (`while … else:` is Python too).
FOLLOWS = {"elif": frozenset({"if", "elif"}), "else": frozenset({"if", "elif", "for", "while", "try", "except"}),
           "except": frozenset({"try", "except"}), "finally": frozenset({"try", "except", "else"})}
KNOWN_NAMES = frozenset(dir(builtins)) | {"__file__", "__name__", "__doc__", "__spec__", "__loader__", "__package__",
                                          "__builtins__", "__path__", "__cached__", "__annotations__", "__class__"}


class Verdict(NamedTuple):
    """`SyntaxGuard.judge`'s answer for one canvas's fills."""

    faulty: tuple[int, ...]  # the holes whose fills broke the document (none: it is fine)
    key: tuple[int, int, int]  # orders fills from better to worse, for the fallback's pick: a fill
    # at fault for a syntax error, tree-sitter's error count, names defined nowhere
    indent: tuple[int, ...]  # faulty holes whose own indentation is what is wrong
    ends: tuple[int, ...] = ()  # faulty holes to continue where their fill ended (`Engine._reopen`)
    names: tuple[tuple[int, int], ...] = ()  # (hole, offset in its fill) of a name defined nowhere (`_undefined`)
    # The last resort's (`Engine._denoise`), for a canvas the guard would otherwise hand back broken:
    lines: tuple[tuple[int, "NextLine"], ...] = ()  # (hole, the line it must go on with) (`SyntaxGuard.next_line`)
    starts: tuple[tuple[int, int, bool], ...] = ()  # a later line of a multi-line fill that holds the
    # error: (hole, offset in its fill, whether to write on there) — at its first word, written again
    # from there; at its end where it stopped unfinished, written on; the lines above it kept
    broken: bool = False  # the document does not parse (Python), or has more errors than with the holes empty


class NextLine(NamedTuple):
    """What a multi-line fill must write next so that the suffix fits after it (`SyntaxGuard.next_line`)."""

    indent: str | None  # the next line's indentation; None: write on, no new line (a bracket is open)
    header: bool | None = None  # it must open a block (True) or must not (False)
    words: frozenset[str] | None = None  # its first word is one of these (the suffix has an `elif` or
    # `except` at its level)
    rewrite: int | None = None  # the fill's last line is at the level but is no block header: it is
    # written again from its first word (this offset in the fill), as a header, instead
    close: str = ""  # the line starts with these closing brackets (a literal the fill must end)


class Outline(NamedTuple):
    """The block structure at the end of some Python text (`outline`)."""

    stack: tuple[int, ...]  # the indentation levels open, outermost (0) first
    header: bool  # the last logical line ends with a colon: a deeper block must follow
    closers: str  # what closes the brackets open at the end, innermost first (`}`, `])`)
    words: tuple[str, ...] = ()  # per level, the first word of its last logical line (below the top:
    # the header whose block is open)


def _logical(text: str) -> tuple[list[tuple[int, int, str, bool]], str] | None:
    """Each logical line of Python `text` that holds code: (its first physical line's index, its
    indentation in columns, its first token, whether it ends with a colon), and what closes the
    brackets still open at the end (`}`, `])`). The text is tokenized with every line's indentation
    taken off, so a level that does not match (a suffix read on its own, a fill's slip) is no
    tokenizer error: the caller reads the indentation. None for tab indentation or text that does
    not tokenize (a string left open)."""
    lines = text.split("\n")
    if any(line[:len(line) - len(line.lstrip())].count("\t") for line in lines):
        return None
    out: list[tuple[int, int, str, bool]] = []
    opened, start, last = [], True, ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO("\n".join(line.lstrip(" ") for line in lines)).readline):
            if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            if tok.type == tokenize.NEWLINE:
                if out and not start:
                    out[-1] = out[-1][:3] + (last == ":",)
                start = True
                continue
            if start:
                row = tok.start[0] - 1
                out.append((row, len(lines[row]) - len(lines[row].lstrip(" ")), tok.string, False))
                start = False
            if tok.type == tokenize.OP and tok.string in "([{":
                opened.append(tok.string)
            elif tok.type == tokenize.OP and tok.string in ")]}" and opened:
                opened.pop()
            last = tok.string
    except tokenize.TokenError as exc:
        if "string" in str(exc):
            return None
        if out and not start:  # (a bracket open at the end: the line goes on)
            out[-1] = out[-1][:3] + (last == ":",)
    except (SyntaxError, ValueError):
        return None
    return out, "".join({"(": ")", "[": "]", "{": "}"}[b] for b in reversed(opened))


def outline(text: str) -> Outline | None:
    """The block structure Python `text` leaves open at its end, or None where its own levels do
    not match (a line dedented to a level never opened) or it does not tokenize."""
    read = _logical(text)
    if read is None:
        return None
    stack, words, header = [0], [""], False
    for _, ind, word, colon in read[0]:
        if ind > stack[-1]:
            stack.append(ind)
            words.append(word)
        else:
            while stack[-1] > ind:
                stack.pop()
                words.pop()
            if stack[-1] != ind:
                return None
            words[-1] = word
        header = colon
    return Outline(tuple(stack), header, read[1], tuple(words))


def needs(suffix: str) -> tuple[int, frozenset[int], dict[int, str]] | None:
    """What Python `suffix`, read from the start of a line, needs of the text before it: the
    indentation of its first line, the levels it returns to that it does not open itself (they must
    be open when it starts), and, per such level, a clause (`elif`, `except`…) that continues the
    statement before it there. None where the suffix has no code or its own levels do not match."""
    read = _logical(suffix)
    if read is None or not read[0]:
        return None
    (_, first, word, _), rest = read[0][0], read[0][1:]
    stack, levels, clauses = [first], {first}, {}
    if word in CLAUSES:
        clauses[first] = word
    for _, ind, word, _ in rest:
        if ind > stack[-1]:
            stack.append(ind)
            continue
        while stack and stack[-1] > ind:
            stack.pop()
        if not stack:  # back to a level from before the suffix
            stack.append(ind)
            if ind not in levels and word in CLAUSES:
                clauses[ind] = word
            levels.add(ind)
        elif stack[-1] != ind:
            return None
    return first, frozenset(levels), clauses


def _unfinished(exc: SyntaxError, text: str) -> bool:
    """Whether Python's error `exc` on a line `text` says the line stopped before it was done: a
    bracket never closed, a string never ended, or something expected after its last character
    (not an indentation error: a header's missing body, a stray indent)."""
    if isinstance(exc, IndentationError):
        return False
    msg = exc.msg or ""
    if "was never closed" in msg or msg.startswith("unterminated string"):
        return True
    return exc.offset is not None and exc.offset > len(text.rstrip())


def _blames_indentation(exc: SyntaxError, first: int) -> bool:
    """Whether Python's error `exc` says the indentation of a fill starting on line `first` is wrong:
    an indentation error on that line — unless it is the missing body of a header on that very
    line (`else:` at the end of a function), which is the line's kind — or a later line that fits
    no level (the fill opened a level of its own)."""
    if not isinstance(exc, IndentationError):
        return False
    if exc.msg.startswith("unindent does not match"):
        return True
    header = re.search(r"on line (\d+)", exc.msg or "")
    return exc.lineno == first and not (header and int(header.group(1)) == first)


class SyntaxGuard:
    def __init__(self, parser: Any, texts: list[str], single_line: list[bool], headers: frozenset[str] = frozenset(),
                 python: bool = False, names: bool = True, known: frozenset[str] = frozenset()):
        self.names = names  # Python: a fill may not read a name the document defines nowhere (`_undefined`)
        self._known = KNOWN_NAMES | known  # and names defined outside `texts` (`InfillRequest.names`)
        self._parser = parser
        self._texts = texts
        self._single = single_line
        self._python = python
        self._probe_size_ok = sum(len(t) for t in texts) <= PROBE_CHARS
        self.headers = headers  # block keywords of an indentation language (dg_lsp/languages.py)
        self.baseline = self.errors([""] * len(single_line))

    @classmethod
    def build(cls, language: str, texts: list[str], single_line: list[bool], names: bool = True,
              known: frozenset[str] = frozenset()) -> "SyntaxGuard | None":
        """A guard for a request, or None where no grammar applies (plaintext, an unknown language, a
        missing wheel) or the document is too big to parse at every check."""
        if sum(len(t) for t in texts) > MAX_CHARS:
            return None
        from dg_lsp import languages

        parser = languages.parser_for(language)
        spec = languages.spec_for(language)
        if parser is None or spec is None:
            return None
        return cls(parser, texts, single_line, spec.headers, python=spec.name == "python", names=names, known=known)

    def document(self, fills: list[str]) -> str:
        """The text with `fills` in its holes, as an editor holds it after accepting them (a
        single-line fill ends at its first newline: the line's own newline follows the hole)."""
        out = [self._texts[0]]
        for fill, single, text in zip(self._fills(fills), self._single, self._texts[1:]):
            out += [fill, text]
        return "".join(out)

    def _fills(self, fills: list[str]) -> list[str]:
        return [f.split("\n", 1)[0] if single else f for f, single in zip(fills, self._single)]

    def errors(self, fills: list[str]) -> int:
        """tree-sitter's count of ERROR and MISSING nodes in the document with `fills`."""
        return self._count(self.document(fills))

    def _count(self, doc: str) -> int:
        from dg_lsp.languages import count_errors

        return count_errors(self._parser.parse(doc.encode("utf-8", errors="surrogatepass")))

    def judge(self, fills: list[str], plan: bool = False) -> Verdict:
        """Python names the hole whose lines hold the first error; an indentation error on a fill's
        first line ("unexpected indent", "expected an indented block" after the line above) blames
        its indentation, and so does a next line that fits no level ("unindent does not match": the
        fill opened a level of its own); a `try:` without handler, which Python reports where the
        block ends, blames the fill that wrote the `try:`. Where a single-line hole starts its line,
        the probe (`_probe`) settles what the error alone does not: an error further down is the
        fill's when a stand-in line there gets the parse past it (`else:` where `elif …:` belongs),
        and the fill's indentation is what is wrong when no line at it parses but one at another
        does (a statement between an `if` body and its `else:`). A typed line (`_typed`) that
        stopped too soon is marked to be continued (`Verdict.ends`, `_continues`). tree-sitter's
        count blames every hole. With `plan`, for the last resort (`Engine._denoise`), a
        document that does not parse also gets the line each multi-line fill must go on with
        (`Verdict.lines`, `next_line`) and the later lines of multi-line fills that hold the error
        (`Verdict.starts`)."""
        doc = self.document(fills)
        count = self._count(doc)
        if self._python:
            exc = self._python_parse(doc)
            if isinstance(exc, ast.Module):  # it parses
                names = self._undefined(exc, doc, self._fills(fills)) if self.names else ()
                return Verdict(tuple(h for h, _ in names), (0, count, len(names)), (), (), names)
            line = exc.lineno or 0
            # multi-line fills the suffix cannot follow: the line each must go on with (`next_line`)
            plans = ()
            if plan and (line >= self._first_hole_line() or "was never closed" in (exc.msg or "")):
                plans = tuple((h, nxt) for h in range(len(fills)) if (nxt := self.next_line(fills, h, exc)) is not None)
            if line >= self._first_hole_line():  # else hidden by an error above
                own = self._fills(fills)
                lines = doc.split("\n")
                windows = self._windows(own, lines)
                faulty = tuple(i for i, (lo, hi) in enumerate(windows) if lo <= line <= hi)
                if not faulty and (exc.msg or "").startswith("expected 'except' or 'finally'"):
                    # reported where the try's block ends: the fault is a `try:` a fill wrote
                    tries = [i for i, ((lo, _), f) in enumerate(zip(windows, own))
                             if lo < line and _TRY.match(f.split("\n", 1)[0])]
                    faulty = tuple(tries[-1:])
                if not faulty:  # further down: the nearest fill above whose place a stand-in fixes
                    above = [i for i, (_, hi) in enumerate(windows) if hi < line]
                    faulty = next(((i,) for i in reversed(above) if self._probe(own, i, line)), ())
                indent = tuple(i for i in faulty if _blames_indentation(exc, windows[i][0])
                               or self._misplaced(own, i, max(line, windows[i][1])))
                ends = tuple(i for i in faulty if i not in indent and self._typed(i)
                             and self._continues(exc, lines, windows[i], own[i]))
                starts = tuple((i, *at) for i in range(len(fills)) if plan and not self._single[i]
                               and (at := self._broken_line(exc, windows[i][0], own[i])) is not None)
                return Verdict(faulty, (int(bool(faulty)), count, 0), indent, ends, (), plans, starts, True)
            worse = count > self.baseline
            return Verdict(tuple(range(len(fills))) if worse else (), (int(worse), count, 0), (), (), (), plans, (),
                           True)
        worse = count > self.baseline
        return Verdict(tuple(range(len(fills))) if worse else (), (int(worse), count, 0), (), broken=worse)

    def _undefined(self, tree: ast.Module, doc: str, own: list[str]) -> tuple[tuple[int, int], ...]:
        """Per hole, the first name its fill reads that the document defines nowhere (no assignment,
        parameter, import, def or class of it, anywhere, in any scope) and Python does not provide:
        (hole, its offset in the fill). Loose on purpose — a name assigned in another function
        counts as defined — so that only a name that cannot exist is caught; none where the
        module star-imports (its names are unknown). Where the request's text is a window of a
        larger document, the server names the identifiers outside it (`known`), and they count
        as defined. `tree` is `doc`'s AST (`_python_parse`)."""
        known, reads = set(self._known), []
        for n in ast.walk(tree):
            if isinstance(n, ast.Name):
                if isinstance(n.ctx, ast.Load):
                    reads.append(n)
                else:
                    known.add(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                known.add(n.name)
            elif isinstance(n, ast.arg):
                known.add(n.arg)
            elif isinstance(n, ast.alias):
                if n.name == "*":
                    return ()
                known.add((n.asname or n.name).split(".")[0])
            elif isinstance(n, (ast.Global, ast.Nonlocal)):
                known.update(n.names)
            elif isinstance(n, ast.ExceptHandler) and n.name:
                known.add(n.name)
            elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
                known.add(n.name)
            elif isinstance(n, ast.MatchMapping) and n.rest:
                known.add(n.rest)
        lines = doc.split("\n")
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line) + 1)
        spans, at = [], len(self._texts[0])  # each fill's [start, end) in doc
        for fill, text in zip(own, self._texts[1:]):
            spans.append((at, at + len(fill)))
            at += len(fill) + len(text)
        first: dict[int, int] = {}
        for n in reads:
            if n.id in known:
                continue
            line = lines[n.lineno - 1]
            pos = starts[n.lineno - 1] + len(line.encode("utf-8")[:n.col_offset].decode("utf-8", "ignore"))
            for hole, (lo, hi) in enumerate(spans):
                if lo <= pos < hi and own[hole][pos - lo:].startswith(n.id):
                    first[hole] = min(first.get(hole, pos - lo), pos - lo)
        return tuple(sorted(first.items()))

    def _probe(self, own: list[str], hole: int, past: int, at: str | None = None) -> bool:
        """Whether some stand-in line (`STAND_INS`) in single-line hole `hole`, which starts its line,
        lets the document (the other fills in place, `own`) parse past line `past`: at indentation
        `at`, or at any level the lines around the hole suggest (`_levels`). False where it does not
        apply (another language, a multi-line hole, a hole after text on its line, a big document)."""
        if not self._probeable(hole):
            return False
        for ws in [at] if at is not None else self._levels(hole, own[hole]):
            for line in STAND_INS:
                trial = list(own)
                trial[hole] = ws + line
                exc = self._python_error(self.document(trial))
                if exc is None or (exc.lineno or 0) > past:
                    return True
        return False

    def _typed(self, hole: int) -> bool:
        """Whether single-line hole `hole` follows code on its line (the user typed the line's start;
        indentation alone, as after auto-indent, leaves the first word to the model)."""
        return self._single[hole] and bool(self._texts[hole].rsplit("\n", 1)[-1].strip())

    def _continues(self, exc: SyntaxError, lines: list[str], window: tuple[int, int], fill: str) -> bool:
        """Whether a typed line with `fill` in it is bad only for stopping where it did: Python's
        error `exc` is on the line and says it is unfinished (`if (a == b`), or the line is a block
        header over a line that is not deeper (`if n == 1:` where the one-line `if n == 1: return
        1` belongs: the model writes the body after the colon)."""
        line = exc.lineno or 0
        if line == window[0]:
            return _unfinished(exc, lines[line - 1])
        return (line == window[1] and (exc.msg or "").startswith("expected an indented block")
                and lines[window[0] - 1].rstrip().endswith(":") and "\n" not in fill)

    def _probeable(self, hole: int) -> bool:
        """Python, a single-line hole at the start of its line, a document small enough to parse a
        few times more."""
        text = self._texts[hole]
        return (self._python and self._single[hole] and (text.endswith("\n") or (hole == 0 and not text))
                and self._probe_size_ok)

    def _misplaced(self, own: list[str], hole: int, past: int) -> bool:
        """Whether fill `own[hole]`'s indentation is what keeps the document from parsing past line
        `past`: no stand-in at it does, one at another level does."""
        fill = own[hole]
        if not fill.strip() or not self._probeable(hole):
            return False
        ws = fill[:len(fill) - len(fill.lstrip())]
        if self._probe(own, hole, past, at=ws):
            return False
        return any(self._probe(own, hole, past, at=other) for other in self._levels(hole, fill) if other != ws)

    def _levels(self, hole: int, fill: str) -> list[str]:
        """Indentations a line in `hole` could have: the fill's, the next non-blank line's, the
        previous one's and one deeper after a header, then the enclosing blocks' levels, innermost
        first."""
        lead = lambda t: t[:len(t) - len(t.lstrip())]
        out = [lead(fill)]
        nxt = next((t for t in self._texts[hole + 1].split("\n")[1:] if t.strip()), None)
        if nxt is not None:
            out.append(lead(nxt))
        floor = None
        for text in reversed(self._texts[hole].split("\n")[:-1]):
            if not text.strip():
                continue
            ws = lead(text)
            if floor is None:
                if text.rstrip().endswith(":"):
                    out.append(ws + ("\t" if "\t" in ws else "    "))
                out.append(ws)
                floor = ws
            elif len(ws) < len(floor):
                out.append(ws)
                floor = ws
            if not floor or len(out) >= 7:
                break
        return list(dict.fromkeys(out))

    def _python_parse(self, doc: str) -> ast.Module | SyntaxError:
        """`doc`'s AST, or the first syntax error Python finds in it."""
        try:
            return compile(doc, "<fill>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as exc:  # IndentationError included
            return exc
        except (ValueError, MemoryError, RecursionError):  # NUL bytes, absurd nesting: no line to go by
            return SyntaxError("no verdict")

    def _python_error(self, doc: str) -> SyntaxError | None:
        """The first syntax error Python finds in `doc`, None when it parses."""
        parsed = self._python_parse(doc)
        return parsed if isinstance(parsed, SyntaxError) else None

    def _first_hole_line(self) -> int:
        return self._texts[0].count("\n") + 1

    def _windows(self, own: list[str], lines: list[str]) -> list[tuple[int, int]]:
        """Per hole, the lines (1-based, inclusive) of the document with the fills as placed (`own`;
        `lines`, its text split at newlines) from its fill's first to the first non-blank line after
        the fill (Python reports a missing or stray block there, past blank lines)."""
        out, line = [], 1
        for text, fill in zip(self._texts, own):
            line += text.count("\n")
            last = line + fill.count("\n")
            nxt = next((k for k in range(last + 1, len(lines) + 1) if lines[k - 1].strip()), last + 1)
            out.append((line, nxt))
            line = last
        return out

    @staticmethod
    def _broken_line(exc: SyntaxError, first: int, fill: str) -> tuple[int, bool] | None:
        """Where in `fill` (placed from document line `first`) to take back the line holding
        Python's error `exc`, when the error is not about indentation (which a line above may
        have caused): (offset, True) at its end when it stopped unfinished (`if x` with no colon, a
        bracket left open), to write on; (offset, False) at the quote of a string left open, to
        write the line again from there; else (offset, False) at its first word, to write it again
        — but not the fill's first line, which the guard's other rules rewrite. Else None."""
        lines = fill.split("\n")
        k = (exc.lineno or 0) - first
        if isinstance(exc, IndentationError) or not 0 <= k < len(lines) or not lines[k].strip():
            return None
        at = sum(len(t) + 1 for t in lines[:k])
        if (exc.msg or "").startswith("unterminated string") and exc.offset:
            return at + exc.offset - 1, False  # no place to write on: again from the quote that opened it
        if _unfinished(exc, lines[k]):
            return at + len(lines[k].rstrip()), True
        return (at + len(lines[k]) - len(lines[k].lstrip()), False) if k else None

    def next_line(self, fills: list[str], hole: int, exc: SyntaxError) -> NextLine | None:
        """What multi-line Python hole `hole`'s fill must write next so that the suffix can follow it,
        in a document that does not parse (`exc`, its first error), or None where the suffix fits
        after the fill (or the rule does not apply: a single-line hole, a fill whose line goes on
        after it, a document too big to read twice more). The suffix needs levels open that no line of
        it opens (`needs`: its first line's, and those it returns to); the fill's end leaves some
        open (`outline`). A fill that ends in a block header goes on one level deeper, towards the
        suffix's levels; any other goes on with a block header at the level just below the first
        level missing, which opens it — or, where its last line is at that level, that line is
        written again as the header (a statement the model put where the block belongs: `return
        res` followed by `if value == 1:` would parse, and be wrong twice). A `try:` block the
        suffix leaves gets its `except`; a header the suffix continues with a clause it cannot
        follow (`else:` before `elif`) is written again as one it can; a header with no block
        before a suffix at its level or above gets one. A header opened at a level where the suffix
        continues with `elif` or `except` must be an `if` or a `try`. A literal the suffix does not
        close is closed under its statement; any other bracket left open (Python says it was never
        closed) is written on, with no new line. Each call gives one line; the guard asks
        again after the model has written it."""
        if not self._python or self._single[hole] or not self._probe_size_ok:
            return None
        own = self._fills(fills)
        fill, text = own[hole], self._texts[hole]
        before = "".join(t + f for t, f in zip(self._texts[:hole + 1], own[:hole + 1]))
        after = "".join(t + f for t, f in zip(self._texts[hole + 1:], own[hole + 1:] + [""]))
        ends_line = before.endswith("\n") or not before or after.startswith("\n")
        if not ends_line or (not fill and before.rstrip(" ") != before):
            return None  # the fill does not end its line (or starts after code on it)
        never_closed = "was never closed" in (exc.msg or "")
        if not never_closed and (exc.lineno or 0) <= before.count("\n") + (not before.endswith("\n")):
            return None  # the fill's own lines are broken: the guard's other rules rewrite them
        end = outline(before)
        if end is None:
            return None
        if end.closers:
            if not never_closed or after.lstrip()[:1] in (")", "]", "}"):
                return None
            # a literal the fill must end: closed on a line of its own at its statement's indentation
            # (`}` under `dic = {`) when that lets the document parse past the closing line, else
            # the fill writes on (its own line stopped inside the brackets)
            ind = end.stack[-1]  # the level of the line the literal is in
            closed = (before if before.endswith("\n") else before + "\n") + " " * ind + end.closers + "\n"
            trial = self._python_error(closed + after.lstrip("\n"))
            if trial is None or (trial.lineno or 0) > closed.count("\n"):
                return NextLine(" " * ind, close=end.closers)
            return NextLine(None)
        stack = list(end.stack)
        unit = min((b - a for a, b in zip(stack, stack[1:])), default=4)  # the file's indentation step
        wanted = needs(after)
        if wanted is None:  # no code after the fill: a header it ends with wants a body all the same
            return NextLine(" " * (stack[-1] + unit), False) if end.header else None
        first, levels, clauses = wanted
        below = {t for t in levels if t <= stack[-1]}
        last = fill.rstrip("\n").rsplit("\n", 1)[-1]
        word = m.group(1) if (m := _FIRST_WORD.match(last)) else ""
        if end.header and fill.strip() and stack[-1] in clauses and word not in FOLLOWS[clauses[stack[-1]]]:
            # the suffix continues the fill's last header with a clause it cannot follow (`else:`
            # before `elif`): that line is written again as a header the clause can follow
            return NextLine(" " * stack[-1], True, CLAUSES[clauses[stack[-1]]] | {clauses[stack[-1]]},
                            len(fill.rstrip("\n")) - len(last.lstrip(" ")))
        if end.header and fill.strip() and word == "try" and clauses.get(stack[-1]) not in ("except", "finally"):
            # a `try:` whose block the suffix leaves with no handler: another header instead
            return NextLine(" " * stack[-1], True, self.headers - set(FOLLOWS) - {"try"},
                            len(fill.rstrip("\n")) - len(last.lstrip(" ")))
        if end.header:
            if first > stack[-1] and levels - {first} <= set(stack) and first not in clauses:
                return None  # the suffix's first line is the header's block
            if levels <= set(stack):  # the suffix goes on at the header's level or above it: the
                # header has no block (`if x:` before `else:`): the fill writes one
                return NextLine(" " * (stack[-1] + unit), False)
            deeper = sorted(t for t in levels if t > stack[-1])
            if not deeper or not below <= set(stack):
                return None  # the levels do not fit: the guard's other rules rewrite the fill
            level = deeper[0]
            header = len(deeper) > 1 or level in clauses  # (an `elif` there: the line is its `if`)
        else:
            for level, opened in zip(stack[-2::-1], end.words[-2::-1]):  # the blocks the fill is in
                handled = first == level and clauses.get(level) in ("except", "finally")
                if opened == "try" and first <= level and not handled:
                    # the suffix leaves a `try:` block that has no handler: the fill writes it
                    return NextLine(" " * level, True, frozenset({"except"}))
            missing = sorted(t for t in levels if t not in stack)
            if not missing:
                return None
            level, header = max(t for t in stack if t < missing[0]), True
        words = CLAUSES.get(clauses.get(level, "")) if header else None
        if header and words is None:  # a block of its own: not a clause (`else:` after a statement)
            words = self.headers - set(FOLLOWS)
        if not end.header and word and len(last) - len(last.lstrip(" ")) == level:
            return NextLine(" " * level, header, words, len(fill.rstrip("\n")) - len(last.lstrip(" ")))
        return NextLine(" " * level, header, words)

    def opens_block(self, hole: int, fill: str) -> bool | None:
        """Whether the line single-line hole `hole` makes with `fill` must open an indented block:
        True when the suffix's next non-blank line is indented deeper than it, False when not, None
        where no such rule applies (not an indentation language, a multi-line hole, a blank line); at
        the end of the text, False."""
        if not self.headers or not self._single[hole]:
            return None
        line = self._texts[hole].rsplit("\n", 1)[-1] + fill.split("\n", 1)[0]
        after = self._texts[hole + 1].split("\n")[1:]  # the lines after the hole's own
        nxt = next((t for t in after if t.strip()), None)
        if not line.strip():
            return None
        if nxt is None:  # the end of the text: nothing could be a block's body
            return False
        return len(nxt) - len(nxt.lstrip()) > len(line) - len(line.lstrip())
