"""The syntax guard: a fill may not leave the document less parseable than the empty hole does.

Grammar-constrained decoding, checked where it is cheap to check: when a canvas is complete (every
position committed), the document is parsed with the fills in place (tree-sitter, the server's grammar
table in dg_lsp/languages.py, which imports no pygls). If it has more parse errors than the document
with every hole left empty, the fill went wrong at its first word (`    if x:` where the suffix
wants an assignment): the engine reopens each hole from there and forbids that word, and an end, at
that position, so the model writes another line (`Engine._reopen` in engine/runtime.py). This is
part of decoding, not a filter: no fill is dropped or rewritten, the model writes every token. The comparison with the empty hole makes the rule fair to a
document that is already broken elsewhere (a user mid-edit, a context cut by the token budget).
"""
from __future__ import annotations

from typing import Any

MAX_CHARS = 200_000  # a bigger document is not guarded: a parse per check would cost too much


class SyntaxGuard:
    def __init__(self, parser: Any, texts: list[str], single_line: list[bool]):
        self._parser = parser
        self._texts = texts
        self._single = single_line
        self.baseline = self.errors([""] * len(single_line))

    @classmethod
    def build(cls, language: str, texts: list[str], single_line: list[bool]) -> "SyntaxGuard | None":
        """A guard for a request, or None where no grammar applies (plaintext, an unknown language, a
        missing wheel) or the document is too big to parse at every check."""
        if sum(len(t) for t in texts) > MAX_CHARS:
            return None
        from dg_lsp import languages

        parser = languages.parser_for(language)
        return None if parser is None else cls(parser, texts, single_line)

    def document(self, fills: list[str]) -> str:
        """The text with `fills` in its holes, as an editor holds it after accepting them (a
        single-line fill ends at its first newline: the line's own newline follows the hole)."""
        out = [self._texts[0]]
        for fill, single, text in zip(fills, self._single, self._texts[1:]):
            out += [fill.split("\n", 1)[0] if single else fill, text]
        return "".join(out)

    def errors(self, fills: list[str]) -> int:
        from dg_lsp.languages import count_errors

        return count_errors(self._parser.parse(self.document(fills).encode("utf-8", errors="surrogatepass")))
