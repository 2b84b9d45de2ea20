"""Engine fills → document edits: post-processing and validation.

A raw fill can repeat text that already follows the hole (`foo(x))` before a `)`), arrive with the
wrong indentation or line endings, or leave a bracket open. Each hole's fill is turned into a few
variants (as is, overlap trimmed, brackets closed, cut at an unmatched closer, cut before a string
it leaves open) and the variant that
leaves the fewest parse errors wins; candidates are then ranked the same way, and one that adds
parse errors is dropped when another does not.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from dg_lsp import languages
from dg_lsp.context import HoleSpan
from dg_lsp.documents import MAX_PARSE_CHARS, Snapshot

PAIRS = {")": "(", "]": "[", "}": "{"}
OPENERS = {v: k for k, v in PAIRS.items()}
_STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`')
_local = threading.local()  # tree-sitter parsers are not thread-safe: one per thread and language


@dataclass(frozen=True)
class Ranked:
    fills: list[str]
    errors: int  # parse errors in the document with these fills applied (0 without a grammar)
    score: float = 0.0


def apply(text: str, holes: list[HoleSpan], fills: list[str]) -> str:
    out, pos = [], 0
    for hole, fill in zip(holes, fills):
        out += [text[pos:hole.start], fill]
        pos = hole.end
    out.append(text[pos:])
    return "".join(out)


def unclosed(text: str) -> tuple[list[str], int]:
    """(openers left open, closers with no opener) in `text`, string literals ignored."""
    stack, stray = [], 0
    for ch in _STRINGS.sub("", text):
        if ch in OPENERS:
            stack.append(ch)
        elif ch in PAIRS:
            if stack and stack[-1] == PAIRS[ch]:
                stack.pop()
            else:
                stray += 1
    return stack, stray


def trim_overlap(fill: str, suffix: str, *, single_line: bool) -> str:
    """Drop the longest tail of `fill` that the text after the hole already starts with: the rest of
    the line for single-line fills, whole lines for multi-line ones."""
    rest = suffix.split("\n", 1)[0].rstrip("\r")
    for k in range(min(len(fill), len(rest)), 0, -1):
        if fill.endswith(rest[:k]) and rest[:k].strip():
            fill = fill[:-k]
            break
    if single_line or "\n" not in fill:
        return fill
    lines, after = fill.split("\n"), suffix.split("\n")[1:]
    for j in range(min(len(lines) - 1, len(after)), 0, -1):
        if [l.strip() for l in lines[-j:]] == [l.strip() for l in after[:j]] and any(l.strip() for l in after[:j]):
            return "\n".join(lines[:-j])
    return fill


def fix_indentation(fill: str, before: str, indent_unit: str) -> str:
    """`before` is the text between the line start and the hole. A fill that repeats the line's
    indentation (the cursor already sits after it) loses the copy; continuation lines take the
    document's indentation character (tabs vs spaces)."""
    if before and not before.strip() and fill.startswith(before):
        fill = fill[len(before):]
    if indent_unit == "\t" and "\n" in fill:
        def tabs(m: re.Match) -> str:
            n = len(m.group(1))
            return "\n" + "\t" * (n // 4) + " " * (n % 4)
        fill = re.sub(r"\n( +)", tabs, fill)
    return fill


def close_brackets(fill: str, before: str, rest: str) -> str:
    """Append closers for brackets the fill opened, when nothing after the hole closes them."""
    opened, _ = unclosed(before + fill)
    opened_before, _ = unclosed(before)
    needed = opened[len(opened_before):] if opened[:len(opened_before)] == opened_before else []
    if not needed or rest.strip(" \t)]};,"):  # only closers/punctuation may follow
        return fill
    return fill + "".join(OPENERS[o] for o in reversed(needed))


def cut_stray_closer(fill: str, before: str, rest: str) -> str:
    """Cut the fill at a closer that closes nothing on the line and that the rest also has."""
    depth = len(unclosed(before)[0])
    for i, ch in enumerate(fill):
        if ch in OPENERS:
            depth += 1
        elif ch in PAIRS:
            depth -= 1
            if depth < 0:
                return fill[:i] if ch in rest else fill
    return fill


def cut_open_string(fill: str, before: str) -> str:
    """Cut a one-line fill at a string literal it opens and does not close (`raise ValueError("`
    would leave the line unterminated); the brackets before the cut can then be closed."""
    line = before + fill
    blanked = _STRINGS.sub(lambda m: " " * len(m.group()), line)  # closed literals, same length
    for i in range(len(before), len(blanked)):
        if blanked[i] in "\"'`":
            return fill[:i - len(before)].rstrip()
    return fill


def variants(snap: Snapshot, hole: HoleSpan, fill: str) -> list[str]:
    fill = fill.replace("\r\n", "\n").replace("\r", "\n")
    if hole.single_line:
        fill = fill.split("\n", 1)[0]
    line = snap.line_of(hole.start)
    before = snap.text[snap.line_starts[line]:hole.start]
    suffix = snap.text[hole.end:hole.end + 4000].replace("\r\n", "\n")
    rest = suffix.split("\n", 1)[0]
    fill = fix_indentation(fill, before, _indent_unit(snap))
    trimmed = trim_overlap(fill, suffix, single_line=hole.single_line)
    out = []
    # Order matters on ties (equal parse errors): the trimmed fill wins over a repeat of the suffix.
    tries = [trimmed, close_brackets(trimmed, before, rest), fill, cut_stray_closer(fill, before, rest)]
    if hole.single_line:  # a line the fill leaves inside a string: cut at its quote, close brackets
        cut = cut_open_string(trimmed, before)
        tries += [cut, close_brackets(cut, before, rest)]
    for v in tries:
        if v not in out:
            out.append(v)
    eol = snap.eol
    return [v.replace("\n", eol) for v in out] if eol != "\n" else out


def rank(snap: Snapshot, holes: list[HoleSpan], candidates: list[tuple[list[str], float]]) -> list[Ranked]:
    """Post-process every candidate's fills, rank by parse errors (then engine score order) and
    drop candidates that add errors when another does not, empty ones and duplicates."""
    ranked: list[Ranked] = []
    for fills, score in candidates:
        chosen = list(fills)
        for i, hole in enumerate(holes):
            options = variants(snap, hole, fills[i])
            if len(options) > 1 and len(holes) <= 8:
                chosen[i] = min(options, key=lambda v: errors(snap, holes, chosen[:i] + [v] + chosen[i + 1:]))
            else:
                chosen[i] = options[0]
        if not any(f.strip() for f in chosen) or any(r.fills == chosen for r in ranked):
            continue
        ranked.append(Ranked(chosen, errors(snap, holes, chosen), score))
    if not ranked:
        return []
    best = min(r.errors for r in ranked)
    return [r for r in ranked if r.errors == best]


def errors(snap: Snapshot, holes: list[HoleSpan], fills: list[str]) -> int:
    """Parse errors of the document with `fills` applied, re-parsing incrementally."""
    if snap.tree is None or len(snap.text) > MAX_PARSE_CHARS:
        stack, stray = unclosed(apply(snap.text, holes, fills)[max(0, holes[0].start - 2000):holes[-1].end + 2000])
        return len(stack) + stray
    parser = _parser(snap.language_id)
    if parser is None:
        return 0
    tree = snap.tree.copy()
    new_text = apply(snap.text, holes, fills)
    # Edits from last to first so that each edit's offsets are still those of the old text.
    for hole, fill in sorted(zip(holes, fills), key=lambda p: -p[0].start):
        start_b, end_b = snap.byte_offset(hole.start), snap.byte_offset(hole.end)
        fill_b = fill.encode("utf-8", errors="surrogatepass")
        row, col = _point(snap.text, hole.start)
        erow, ecol = _point(snap.text, hole.end)
        nrow = row + fill.count("\n")
        ncol = len(fill_b) - fill_b.rfind(b"\n") - 1 if "\n" in fill else col + len(fill_b)
        tree.edit(start_byte=start_b, old_end_byte=end_b, new_end_byte=start_b + len(fill_b),
                  start_point=(row, col), old_end_point=(erow, ecol), new_end_point=(nrow, ncol))
    return languages.count_errors(parser.parse(new_text.encode("utf-8", errors="surrogatepass"), tree))


def _point(text: str, offset: int) -> tuple[int, int]:
    row = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    return row, len(text[line_start:offset].encode("utf-8", errors="surrogatepass"))


def _parser(language_id: str):
    cache = _local.__dict__.setdefault("parsers", {})
    if language_id not in cache:
        cache[language_id] = languages.parser_for(language_id)
    return cache[language_id]


def _indent_unit(snap: Snapshot) -> str:
    tabs = len(re.findall(r"^\t", snap.text[:20000], re.M))
    spaces = len(re.findall(r"^ ", snap.text[:20000], re.M))
    return "\t" if tabs > spaces else " "
