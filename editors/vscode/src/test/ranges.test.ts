import { test } from "node:test";
import * as assert from "node:assert/strict";
import { normalizeRanges, type Rng } from "../ranges";

const r = (l1: number, c1: number, l2: number, c2: number): Rng => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });

test("selections come back sorted and forward", () => {
  assert.deepEqual(normalizeRanges([r(5, 0, 5, 3), r(2, 4, 1, 0)]), [r(1, 0, 2, 4), r(5, 0, 5, 3)]);
});

test("overlapping and touching selections merge", () => {
  assert.deepEqual(normalizeRanges([r(1, 0, 1, 5), r(1, 3, 2, 0), r(2, 0, 2, 2)]), [r(1, 0, 2, 2)]);
});

test("a selection inside another disappears", () => {
  assert.deepEqual(normalizeRanges([r(0, 0, 4, 0), r(1, 1, 1, 2)]), [r(0, 0, 4, 0)]);
});

test("cursors stay as insertion points unless inside or at the edge of a selection", () => {
  const out = normalizeRanges([r(3, 1, 3, 1), r(0, 0, 0, 4), r(0, 4, 0, 4), r(0, 2, 0, 2), r(3, 1, 3, 1), r(6, 0, 6, 0)]);
  assert.deepEqual(out, [r(0, 0, 0, 4), r(3, 1, 3, 1), r(6, 0, 6, 0)]);
});

test("a cursor at the start of a selection merges into it", () => {
  assert.deepEqual(normalizeRanges([r(2, 0, 2, 0), r(2, 0, 2, 6)]), [r(2, 0, 2, 6)]);
});

test("input objects are not mutated", () => {
  const a = r(1, 0, 1, 5);
  const b = r(1, 3, 2, 0);
  normalizeRanges([a, b]);
  assert.deepEqual(a, r(1, 0, 1, 5));
});
