"""Versioned document snapshots and LSP position conversion.

The server keeps its own copy of every open document (not pygls' workspace) because it needs three
things pygls does not give: the exact version a snapshot belongs to (edits computed for version v
must never land on another version), a tree-sitter tree kept up to date incrementally, and cheap
conversion between LSP positions (UTF-16 code units by default), Python string offsets (code
points) and tree-sitter byte offsets (UTF-8).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types

_NEWLINE = re.compile(r"\r\n|\r|\n")  # LSP: all three end a line

# Files past these sizes are served without tree-sitter (too slow to parse on every keystroke) and
# files with NUL bytes are treated as binary: the server answers empty rather than guessing.
MAX_PARSE_CHARS = 2_000_000
MAX_DOCUMENT_CHARS = 10_000_000


class DocumentError(ValueError):
    """A position or document the server cannot work with; the message is meant for the user."""


def _units(ch: str, encoding: str) -> int:
    if encoding == "utf-16":
        return 2 if ord(ch) > 0xFFFF else 1
    if encoding == "utf-8":
        return len(ch.encode("utf-8"))
    return 1  # utf-32: code points


def units_to_chars(line: str, units: int, encoding: str = "utf-16") -> int:
    """Column in `encoding` units → index into `line` (a Python str). Past the end → len(line);
    a column inside a surrogate pair rounds down to the pair's start."""
    if encoding == "utf-32":
        return min(units, len(line))
    if line.isascii():
        return min(units, len(line))
    seen = 0
    for i, ch in enumerate(line):
        width = _units(ch, encoding)
        if seen + width > units:
            return i
        seen += width
    return len(line)


def chars_to_units(line: str, chars: int, encoding: str = "utf-16") -> int:
    head = line[:chars]
    if encoding == "utf-32" or head.isascii():
        return len(head)
    if encoding == "utf-8":
        return len(head.encode("utf-8"))
    return len(head) + sum(1 for ch in head if ord(ch) > 0xFFFF)


@dataclass
class Snapshot:
    """An immutable view of one document version; everything a request needs, safe to hand to
    another thread (the tree is a private copy)."""

    uri: str
    version: int
    language_id: str
    text: str
    encoding: str = "utf-16"
    tree: Any = None  # tree_sitter.Tree | None
    _line_starts: list[int] | None = field(default=None, repr=False)

    # -- lines -------------------------------------------------------------------------------
    @property
    def line_starts(self) -> list[int]:
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in _NEWLINE.finditer(self.text)]
        return self._line_starts

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_span(self, line: int) -> tuple[int, int]:
        """[start, end) of `line` without its line ending."""
        starts = self.line_starts
        start = starts[line]
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        while end > start and self.text[end - 1] in "\r\n":
            end -= 1
        return start, end

    def line_text(self, line: int) -> str:
        start, end = self.line_span(line)
        return self.text[start:end]

    def line_of(self, offset: int) -> int:
        starts = self.line_starts
        lo, hi = 0, len(starts) - 1
        while lo < hi:  # last line start <= offset
            mid = (lo + hi + 1) // 2
            if starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    @property
    def eol(self) -> str:
        """The document's dominant line ending, used for text the server inserts."""
        crlf = self.text.count("\r\n")
        lf = self.text.count("\n") - crlf
        return "\r\n" if crlf > lf else "\n"

    # -- positions -----------------------------------------------------------------------------
    def offset_at(self, position: types.Position, *, strict: bool = True) -> int:
        """LSP position → string offset. Out of range raises DocumentError when `strict`, else
        clamps (the LSP spec says a character past the line end means the line end)."""
        line, character = position.line, position.character
        if line < 0 or character < 0:
            raise DocumentError(f"position {line}:{character} is negative")
        if line >= self.line_count:
            if strict and not (line == self.line_count and character == 0):
                raise DocumentError(f"line {line} is past the end of the document ({self.line_count} lines)")
            return len(self.text)
        start, end = self.line_span(line)
        return start + units_to_chars(self.text[start:end], character, self.encoding)

    def position_at(self, offset: int) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        line = self.line_of(offset)
        start, end = self.line_span(line)
        col = min(offset, end) - start
        return types.Position(line=line, character=chars_to_units(self.text[start:end], col, self.encoding))

    def range_at(self, rng: types.Range, *, strict: bool = True) -> tuple[int, int]:
        start, end = self.offset_at(rng.start, strict=strict), self.offset_at(rng.end, strict=strict)
        if end < start:
            raise DocumentError("range ends before it starts")
        return start, end

    def to_range(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position_at(start), end=self.position_at(end))

    # -- tree-sitter byte offsets ----------------------------------------------------------------
    def byte_offset(self, offset: int) -> int:
        head = self.text[:offset]
        return offset if head.isascii() else len(head.encode("utf-8"))

    def char_offset(self, byte: int) -> int:
        """tree-sitter byte offset → string offset (via the row, so the cost is one line)."""
        data = self.encoded
        if len(data) == len(self.text):  # ASCII: identical
            return byte
        return len(data[:byte].decode("utf-8", errors="ignore"))

    @property
    def encoded(self) -> bytes:
        cached = self.__dict__.get("_encoded")
        if cached is None:
            cached = self.text.encode("utf-8", errors="surrogatepass")
            self.__dict__["_encoded"] = cached
        return cached


@dataclass
class Document:
    uri: str
    version: int
    language_id: str
    text: str
    tree: Any = None
    parser: Any = None

    def snapshot(self, encoding: str, *, with_tree: bool = True) -> Snapshot:
        tree = self.tree.copy() if self.tree is not None and with_tree else None
        return Snapshot(self.uri, self.version, self.language_id, self.text, encoding, tree)


class DocumentStore:
    """Open documents by URI. Changes re-parse incrementally when a grammar is known."""

    def __init__(self, parser_for=None) -> None:
        # parser_for(language_id) -> tree_sitter.Parser | None, injected so that tests and the
        # server decide when grammars get imported (never before `initialize` is answered).
        self._docs: dict[str, Document] = {}
        self._parser_for = parser_for
        self.encoding = "utf-16"

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def get(self, uri: str) -> Document:
        doc = self._docs.get(uri)
        if doc is None:
            raise DocumentError(f"document {uri} is not open")
        return doc

    def snapshot(self, uri: str, *, with_tree: bool = True) -> Snapshot:
        """`with_tree=False` skips copying the syntax tree: for answers that need none."""
        return self.get(uri).snapshot(self.encoding, with_tree=with_tree)

    def open(self, uri: str, language_id: str, version: int, text: str) -> Document:
        doc = Document(uri, version, language_id, text)
        self._docs[uri] = doc
        self._reparse(doc, None)
        return doc

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def change(self, uri: str, version: int, changes: list[Any]) -> Document:
        doc = self.get(uri)
        tree = doc.tree
        for change in changes:
            rng = getattr(change, "range", None)
            if rng is None:  # full-document replacement
                doc.text = change.text
                tree = None
                continue
            snap = Snapshot(uri, doc.version, doc.language_id, doc.text, self.encoding)
            start, end = snap.range_at(rng, strict=False)
            new_text = doc.text[:start] + change.text + doc.text[end:]
            if tree is not None:
                start_b, end_b = snap.byte_offset(start), snap.byte_offset(end)
                new_end_b = start_b + len(change.text.encode("utf-8", errors="surrogatepass"))
                new_snap = Snapshot(uri, version, doc.language_id, new_text, self.encoding)
                tree.edit(start_byte=start_b, old_end_byte=end_b, new_end_byte=new_end_b,
                          start_point=_point(snap, start), old_end_point=_point(snap, end),
                          new_end_point=_point(new_snap, start + len(change.text)))
            doc.text = new_text
        doc.version = version
        doc.tree = tree
        self._reparse(doc, tree)
        return doc

    def _reparse(self, doc: Document, old_tree: Any) -> None:
        if doc.parser is None and self._parser_for is not None:
            doc.parser = self._parser_for(doc.language_id)
        if doc.parser is None or len(doc.text) > MAX_PARSE_CHARS or "\x00" in doc.text:
            doc.tree = None
            return
        data = doc.text.encode("utf-8", errors="surrogatepass")
        doc.tree = doc.parser.parse(data, old_tree) if old_tree is not None else doc.parser.parse(data)


def _point(snap: Snapshot, offset: int) -> tuple[int, int]:
    line = snap.line_of(offset)
    start = snap.line_starts[line]
    col = snap.text[start:offset]
    return line, (len(col) if col.isascii() else len(col.encode("utf-8", errors="surrogatepass")))
