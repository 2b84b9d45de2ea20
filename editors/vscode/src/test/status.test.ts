import { test } from "node:test";
import * as assert from "node:assert/strict";
import { statusView } from "../status";

test("ready shows model and device", () => {
  const v = statusView({ state: "ready", model: "embedded", device: "cuda:0" });
  assert.equal(v.text, "$(sparkle) dg-lsp: embedded · cuda:0");
  assert.match(v.tooltip, /device: cuda:0/);
  assert.equal(v.error, false);
});

test("loading spins and says so", () => {
  assert.equal(statusView({ state: "loading", model: "embedded" }).text, "$(loading~spin) dg-lsp: loading");
});

test("busy keeps model and device visible", () => {
  assert.equal(statusView({ state: "busy", model: "m", device: "cpu" }).text, "$(sync~spin) dg-lsp: m · cpu");
});

test("errors carry the server message and the error colour", () => {
  const v = statusView({ state: "error", message: "weights not found" });
  assert.equal(v.error, true);
  assert.match(v.tooltip, /weights not found/);
});

test("an unknown state from a newer server is shown, not dropped", () => {
  assert.equal(statusView({ state: "warming" }).text, "$(info) dg-lsp: warming");
});
