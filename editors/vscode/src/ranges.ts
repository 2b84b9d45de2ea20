// Multi-cursor selections → the ranges argument of the server's fill commands. No `vscode` import:
// node's test runner checks this directly.

export interface Pos {
  line: number;
  character: number;
}

export interface Rng {
  start: Pos;
  end: Pos;
}

function cmp(a: Pos, b: Pos): number {
  return a.line - b.line || a.character - b.character;
}

function isEmpty(r: Rng): boolean {
  return cmp(r.start, r.end) === 0;
}

/** Normalises editor selections into disjoint ranges in document order. Selections may be reversed
 * (anchor after active) and may overlap; overlapping or touching non-empty ranges merge into one, a
 * cursor (empty range) inside or at the edge of a selection is dropped, and duplicate cursors collapse.
 * Cursors elsewhere stay: they are insertion points, filled jointly with the selections. */
export function normalizeRanges(selections: readonly Rng[]): Rng[] {
  const ordered = selections
    .map((r) => (cmp(r.start, r.end) <= 0 ? r : { start: r.end, end: r.start }))
    .map((r) => ({ start: { ...r.start }, end: { ...r.end } }))
    .sort((a, b) => cmp(a.start, b.start) || cmp(a.end, b.end));
  const out: Rng[] = [];
  for (const r of ordered) {
    const last = out[out.length - 1];
    if (last && cmp(r.start, last.end) <= 0) {
      // Overlapping or touching: a cursor at an edge or duplicate is swallowed; two spans merge.
      // (A cursor sorted before a span that starts at it simply grows into the span.)
      if (isEmpty(r)) continue;
      if (cmp(r.end, last.end) > 0) last.end = r.end;
      continue;
    }
    out.push(r);
  }
  return out;
}

/** Converts LSP positions from `{line, character}` objects of any class (vscode.Position included). */
export function plainRange(r: { start: Pos; end: Pos }): Rng {
  return { start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } };
}
