import { test } from "node:test";
import * as assert from "node:assert/strict";
import { failureMessage, fillHolesParams, fillRangesParams, fixLineParams, isAlternativeAction } from "../commands";

test("all selections go to dgLsp.fillRanges in one request, normalised", () => {
  const sel = [
    { start: { line: 4, character: 2 }, end: { line: 4, character: 8 } },
    { start: { line: 1, character: 9 }, end: { line: 1, character: 0 } },
  ];
  const p = fillRangesParams("file:///a.py", 7, sel);
  assert.equal(p.command, "dgLsp.fillRanges");
  assert.deepEqual(p.arguments, [
    {
      uri: "file:///a.py",
      version: 7,
      ranges: [
        { start: { line: 1, character: 0 }, end: { line: 1, character: 9 } },
        { start: { line: 4, character: 2 }, end: { line: 4, character: 8 } },
      ],
    },
  ]);
});

test("fix line and fill holes name the document", () => {
  assert.equal(fixLineParams("file:///a.py", 1, { line: 3, character: 5 }).command, "dgLsp.fixLine");
  assert.deepEqual(fillHolesParams("file:///a.py", 2).arguments, [{ uri: "file:///a.py", version: 2 }]);
});

test("alternative actions are recognised by command", () => {
  assert.ok(isAlternativeAction({ title: "x", command: { command: "dgLsp.applyAlternative", arguments: [] } }));
  assert.ok(!isAlternativeAction({ title: "x", command: { command: "dgLsp.fixLine" } }));
  assert.ok(!isAlternativeAction({ title: "x" }));
});

test("a command result that was not applied yields the server's reason", () => {
  assert.equal(failureMessage({ applied: true, version: 3, edits: [] }), undefined);
  assert.equal(failureMessage({ applied: false, failureReason: "document changed" }), "document changed");
  assert.equal(failureMessage({ applied: false }), "the edit was not applied");
  assert.equal(failureMessage(null), undefined);
});

test("alternative actions are recognised by the server's code action kind", () => {
  assert.ok(isAlternativeAction({ kind: { value: "refactor.rewrite.dgLsp.alternative" } }));
  assert.ok(isAlternativeAction({ kind: "refactor.rewrite.dgLsp.alternative" }));
  assert.ok(!isAlternativeAction({ kind: { value: "refactor.rewrite.dgLsp.fill" } }));
});
