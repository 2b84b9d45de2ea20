"""Context pinning: where the holes go and which text surrounds them in the engine's canvas.

A diffusion model sees both sides of a hole, so the canvas is prefix + holes + suffix. The token
budget is spent on what predicts a fill best: the text nearest the holes on both sides, the header
of every enclosing function/class, and the imports. Windows are cut at line boundaries and, where
tree-sitter knows the language, at statement boundaries; the prefix window's start is quantised to
blocks of lines so it stays put while the user types, which lets the engine reuse cached context
keys/values (requests carry `cache_key` = document URI). Unknown languages get plain line windows.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from engine.api import Hole

from dg_lsp import languages
from dg_lsp.documents import Snapshot

TokenCounter = Callable[[str], int]

# The prefix window's first line moves in steps of this many lines (cache-friendly windows).
WINDOW_QUANTUM = 8
# How far a window edge may move to land on a statement boundary instead of mid-statement.
BOUNDARY_SLACK = 6
PREFIX_SHARE = 0.7  # of the budget left after the holes' own lines
PINNED_SHARE = 0.25  # of the prefix budget, for imports and enclosing headers
CHARS_PER_TOKEN = 3.2  # code averages ~3-4 characters per BPE token


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1 if text else 0


class ContextError(ValueError):
    """The holes cannot be placed (overlapping ranges, nothing to fill)."""


@dataclass(frozen=True)
class HoleSpan:
    """A document range [start, end) (string offsets) replaced by one fill."""

    start: int
    end: int
    max_tokens: int
    single_line: bool = False
    length_hint: int | None = None

    def hole(self) -> Hole:
        return Hole(max_tokens=self.max_tokens, length_hint=self.length_hint, single_line=self.single_line)


@dataclass
class Pinned:
    segments: list[str | Hole]
    holes: list[HoleSpan]
    language: str
    window: tuple[int, int]  # document offsets of the contiguous window around the holes
    context_tokens: int  # estimated tokens of fixed text


# -- syntax helpers ----------------------------------------------------------------------------

def _root(snap: Snapshot):
    return snap.tree.root_node if snap.tree is not None else None


def _node_at(snap: Snapshot, offset: int):
    root = _root(snap)
    if root is None:
        return None
    b = snap.byte_offset(offset)
    return root.descendant_for_byte_range(b, b)


def _ancestors(node):
    while node is not None:
        yield node
        node = node.parent


def _first_nonspace(snap: Snapshot, line: int) -> int | None:
    start, end = snap.line_span(line)
    text = snap.text[start:end]
    stripped = len(text) - len(text.lstrip())
    return start + stripped if stripped < len(text) else None


def starts_statement(snap: Snapshot, line: int) -> bool:
    """Does `line` begin a statement (a node whose parent is a block or the file)? Lines without
    a grammar, blank lines and lines inside a string or argument list say no / yes as noted."""
    pos = _first_nonspace(snap, line)
    if pos is None:
        return False
    node = _node_at(snap, pos)
    if node is None:
        return True  # no grammar: every line is a boundary
    b = snap.byte_offset(pos)
    while node.parent is not None and node.parent.start_byte == b:
        node = node.parent
    if node.start_byte != b or node.parent is None:
        return node.parent is None
    spec = languages.spec_for(snap.language_id)
    parent = node.parent.type
    return parent in {"module", "program", "source_file", "translation_unit", "ERROR"} or (
        spec is not None and parent in spec.blocks)


def wants_multiline(snap: Snapshot, offset: int) -> bool:
    """Multi-line fill at the cursor? Yes right after something that opens a block (`def f():`,
    `{`) whose body is still empty; no when code follows the cursor on its line."""
    line = snap.line_of(offset)
    ls, le = snap.line_span(line)
    before, after = snap.text[ls:offset], snap.text[offset:le].strip()
    if after and after not in {")", "]", "}", ");", "};", "})"}:
        return False
    spec = languages.spec_for(snap.language_id)
    openers = spec.openers if spec else ("{", ":", "=>")
    # The last non-blank text before the cursor, possibly on an earlier line.
    prev_line, prev = line, before
    while not prev.strip() and prev_line > 0:
        prev_line -= 1
        prev = snap.line_text(prev_line)
    if not prev.rstrip().endswith(openers):
        return False
    if snap.tree is None or spec is None:
        return True
    # Ask the tree: is the opener really a block opener (not a dict literal or slice) and is the
    # body after it empty?
    opener_end = snap.line_span(prev_line)[0] + len(prev.rstrip())
    node = _node_at(snap, opener_end - 1)
    for anc in _ancestors(node):
        if anc.type in spec.blocks:
            body = [c for c in anc.named_children if c.type not in {"comment", "line_comment", "block_comment"}]
            return not body or all(c.start_byte >= snap.byte_offset(offset) for c in body) and not after
        if anc.type in {"dictionary", "object", "set", "subscript", "slice", "lambda", "string"}:
            return False
        if anc.is_error or anc.type in spec.scopes or anc.type.endswith(("statement", "clause")):
            return True
    return True


def snap_range(snap: Snapshot, start: int, end: int) -> tuple[int, int]:
    """Grow a ragged selection to whole syntax nodes: the smallest run of sibling nodes that
    covers it. Without a grammar, a multi-line selection grows to whole lines."""
    text = snap.text
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end:
        return start, end
    root = _root(snap)
    if root is None:
        if snap.line_of(start) != snap.line_of(end):
            first = _first_nonspace(snap, snap.line_of(start))
            return (first if first is not None and first <= start else start), snap.line_span(snap.line_of(end))[1]
        return start, end
    b0, b1 = snap.byte_offset(start), snap.byte_offset(end)
    node = root.descendant_for_byte_range(b0, b1)
    if node is None or (node.start_byte == b0 and node.end_byte == b1):
        return start, end
    kids = [c for c in node.children if c.end_byte > b0 and c.start_byte < b1]
    # A run that starts or ends on an operator or punctuation is not a unit: take the whole node
    # (`b *` → `b * 2`), unless that node is far bigger than the selection (`-> i3` in a function
    # signature): then drop the punctuation at the edges instead (`i32`).
    if kids and (len(kids) == len(node.children) or not kids[0].is_named or not kids[-1].is_named):
        named = kids[:]
        while named and not named[0].is_named:
            named.pop(0)
        while named and not named[-1].is_named:
            named.pop()
        small = node.end_byte - node.start_byte <= 3 * (b1 - b0) or node.start_point[0] == node.end_point[0]
        kids = [node] if small or not named else named
    lo, hi = (kids[0].start_byte, kids[-1].end_byte) if kids else (node.start_byte, node.end_byte)
    return snap.char_offset(lo), snap.char_offset(hi)


def statement_range(snap: Snapshot, offset: int) -> tuple[int, int]:
    """The statement on the cursor's line (the largest node starting at the line's first
    character that ends on the same line), else the line's text without indentation."""
    line = snap.line_of(offset)
    ls, le = snap.line_span(line)
    first = _first_nonspace(snap, line)
    if first is None:
        return offset, offset
    trimmed_end = ls + len(snap.text[ls:le].rstrip())
    node = _node_at(snap, first)
    best = None
    le_b, first_b = snap.byte_offset(le), snap.byte_offset(first)
    for anc in _ancestors(node):
        if anc.start_byte != first_b or anc.end_byte > le_b or anc.parent is None:
            break
        best = anc
    if best is None or best.type in {"comment", "line_comment"}:
        return first, trimmed_end
    end = snap.char_offset(best.end_byte)
    rest = snap.text[end:trimmed_end].strip()
    # Code after the node on the same line (an unparsable tail, a second statement): the line.
    if rest and not rest.startswith(("#", "//", ";")):
        return first, trimmed_end
    return first, end


def enclosing_scopes(snap: Snapshot, offset: int) -> list:
    """Scope nodes (functions, classes…) containing `offset`, outermost first."""
    spec = languages.spec_for(snap.language_id)
    node = _node_at(snap, offset)
    if node is None or spec is None:
        return []
    return [a for a in _ancestors(node) if a.type in spec.scopes][::-1]


def marker_ranges(snap: Snapshot, offset: int, marker: str) -> list[tuple[int, int]]:
    """Every `marker` in the innermost scope around `offset` (the whole file without one)."""
    if not marker:
        return []
    scopes = enclosing_scopes(snap, offset)
    lo, hi = 0, len(snap.text)
    if scopes:
        lo, hi = snap.char_offset(scopes[-1].start_byte), snap.char_offset(scopes[-1].end_byte)
    found, i = [], snap.text.find(marker, lo, hi)
    while i != -1:
        found.append((i, i + len(marker)))
        i = snap.text.find(marker, i + len(marker), hi)
    return found


def _header(snap: Snapshot, scope) -> tuple[int, int]:
    """A scope's header: its first line up to where its body starts (`def f(a,\\n b):`)."""
    start = snap.char_offset(scope.start_byte)
    body = scope.child_by_field_name("body")
    opener = body.prev_sibling if body is not None else None  # `:` / `)` / the signature's end
    end = snap.char_offset(opener.end_byte) if opener is not None else start + 1
    first_line, last_line = snap.line_of(start), snap.line_of(max(start, end - 1))
    last_line = min(last_line, first_line + 4)
    return snap.line_starts[first_line], _line_end_nl(snap, last_line)


def _headers(snap: Snapshot, offset: int) -> list[tuple[int, int]]:
    """Header lines of the scopes around `offset`, outermost first. From the tree when it finds
    scopes; otherwise (no grammar, or the code being written does not parse yet) every line above
    with less indentation that opens a block."""
    scopes = enclosing_scopes(snap, offset)
    if scopes:
        return [_header(snap, s) for s in scopes]
    spec = languages.spec_for(snap.language_id)
    openers = spec.openers if spec else ("{", ":", "=>")
    line = snap.line_of(offset)
    text = snap.line_text(line)
    if not text.strip():
        text = snap.text[snap.line_starts[line]:offset]
    indent = len(text) - len(text.lstrip()) if text.strip() else len(text)
    out = []
    for l in range(line - 1, max(-1, line - 2000), -1):
        t = snap.line_text(l)
        if not t.strip():
            continue
        ind = len(t) - len(t.lstrip())
        if ind < indent:
            indent = ind
            if t.rstrip().endswith(openers):
                out.append((snap.line_starts[l], _line_end_nl(snap, l)))
        if ind == 0:
            break
    return out[::-1]


def _line_end_nl(snap: Snapshot, line: int) -> int:
    starts = snap.line_starts
    return starts[line + 1] if line + 1 < len(starts) else len(snap.text)


def _imports(snap: Snapshot) -> list[tuple[int, int]]:
    spec, root = languages.spec_for(snap.language_id), _root(snap)
    if spec is None or root is None:
        return []
    out = []
    for child in root.children:
        if child.type in spec.imports:
            s = snap.char_offset(child.start_byte)
            out.append((snap.line_starts[snap.line_of(s)], _line_end_nl(snap, snap.line_of(snap.char_offset(child.end_byte)))))
    return out


# -- the canvas ---------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[^\W\d]\w*")


def names_outside(snap: Snapshot, window: tuple[int, int]) -> frozenset[str]:
    """Every identifier-like word of the document outside `window` (a `Pinned.window`): the engine's
    syntax guard counts them as defined (`InfillRequest.names`), since a window cannot show where
    a name the fill reads was defined. Empty when the window is the whole document."""
    lo, hi = window
    if lo <= 0 and hi >= len(snap.text):
        return frozenset()
    return frozenset(_IDENTIFIER.findall(snap.text, 0, lo)) | frozenset(_IDENTIFIER.findall(snap.text, hi))


def pin(snap: Snapshot, holes: list[HoleSpan], budget: int, count: TokenCounter = estimate_tokens) -> Pinned:
    """Lay the holes into a canvas of at most ~`budget` fixed-text tokens."""
    if not holes:
        raise ContextError("nothing to fill")
    holes = sorted(holes, key=lambda h: h.start)
    for a, b in zip(holes, holes[1:]):
        if b.start < a.end:
            raise ContextError("fill ranges overlap")
    first_line, last_line = snap.line_of(holes[0].start), snap.line_of(holes[-1].end)
    core_lo, core_hi = snap.line_starts[first_line], _line_end_nl(snap, last_line)
    spent = count(snap.text[core_lo:holes[0].start]) + count(snap.text[holes[-1].end:core_hi])
    spent += sum(count(snap.text[a.end:b.start]) for a, b in zip(holes, holes[1:]))
    left = max(0, budget - spent)
    prefix_total = int(left * PREFIX_SHARE)

    # Pinned pieces outside the window: enclosing headers, then imports, within their share.
    pinned: list[tuple[int, int]] = []
    pinned_spent, pinned_cap = 0, int(prefix_total * PINNED_SHARE)
    for lo, hi in _headers(snap, holes[0].start) + _imports(snap):
        cost = count(snap.text[lo:hi])
        if hi <= core_lo and pinned_spent + cost <= pinned_cap and (lo, hi) not in pinned:
            pinned.append((lo, hi))
            pinned_spent += cost

    start_line = _prefix_start(snap, first_line, prefix_total - pinned_spent, count)
    window_lo = snap.line_starts[start_line]
    used = count(snap.text[window_lo:core_lo])
    end_line = _suffix_end(snap, last_line, left - pinned_spent - used, count)
    window_hi = _line_end_nl(snap, end_line) if end_line > last_line else core_hi

    head = "".join(snap.text[lo:hi] for lo, hi in sorted(pinned) if hi <= window_lo)
    segments: list[str | Hole] = [head + snap.text[window_lo:holes[0].start]]
    for a, b in zip(holes, holes[1:] + [None]):
        segments.append(a.hole())
        segments.append(snap.text[a.end:b.start] if b is not None else snap.text[a.end:window_hi])
    fixed = sum(count(s) for s in segments if isinstance(s, str))
    return Pinned(segments, holes, languages.engine_language(snap.language_id), (window_lo, window_hi), fixed)


def _prefix_start(snap: Snapshot, first_line: int, budget: int, count: TokenCounter) -> int:
    line, spent = first_line, 0
    while line > 0:
        cost = count(snap.text[snap.line_starts[line - 1]:snap.line_starts[line]])
        if spent + cost > budget:
            break
        spent += cost
        line -= 1
    if line == 0:
        return 0
    # Quantise: round the start up to a multiple of WINDOW_QUANTUM so that typing on the current
    # line (which changes the budget by a token or two) leaves the window's first line in place.
    line = min(first_line, -(-line // WINDOW_QUANTUM) * WINDOW_QUANTUM)
    for candidate in range(line, min(first_line, line + BOUNDARY_SLACK)):
        if starts_statement(snap, candidate):
            return candidate
    return line


def _suffix_end(snap: Snapshot, last_line: int, budget: int, count: TokenCounter) -> int:
    line, spent, final = last_line, 0, snap.line_count - 1
    while line < final:
        cost = count(snap.text[snap.line_starts[line + 1]:_line_end_nl(snap, line + 1)])
        if spent + cost > budget:
            break
        spent += cost
        line += 1
    if line >= final:
        return final
    # End right before a statement starts rather than in the middle of one.
    for candidate in range(line, max(last_line, line - BOUNDARY_SLACK), -1):
        if starts_statement(snap, candidate + 1):
            return candidate
    return line
