import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { SERVER_SETTING_KEYS, documentSelector, filterConfigurationResult, resolveServerCommand, toServerOptions, whichIn } from "../config";

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
const contributed: Record<string, { default?: unknown }> = pkg.contributes.configuration.properties;

test("every server setting is contributed in package.json and nothing else under dgLsp is sent", () => {
  for (const key of SERVER_SETTING_KEYS) assert.ok(`dgLsp.${key}` in contributed, `dgLsp.${key} missing`);
  const clientOnly = Object.keys(contributed)
    .map((k) => k.slice("dgLsp.".length))
    .filter((k) => !(SERVER_SETTING_KEYS as readonly string[]).includes(k));
  assert.deepEqual(clientOnly.sort(), ["server.args", "server.path", "trace.server"]);
});

test("toServerOptions keeps set values and drops unset ones", () => {
  const values: Record<string, unknown> = { model: "random:tiny", device: null, candidates: 2, holeMarker: "", "server.path": "/x" };
  assert.deepEqual(toServerOptions((k) => values[k]), { model: "random:tiny", candidates: 2 });
});

test("workspace/configuration answers for dgLsp lose client-only keys", () => {
  const section = { model: "embedded", server: { path: "/opt/dg-lsp" }, trace: { server: "off" }, debounceMs: 10 };
  assert.deepEqual(filterConfigurationResult("dgLsp", section), { model: "embedded", debounceMs: 10 });
  assert.deepEqual(filterConfigurationResult("editor", { tabSize: 4 }), { tabSize: 4 });
  assert.equal(filterConfigurationResult("dgLsp", null), null);
});

const none = () => false;
const noWhich = () => undefined;

test("an explicit server path wins; a python interpreter there runs the module", () => {
  const base = { platform: "linux" as const, exists: none, which: noWhich, pythonInterpreter: "/venv/bin/python" };
  assert.deepEqual(resolveServerCommand({ ...base, serverPath: "/opt/bin/dg-lsp" }), {
    command: "/opt/bin/dg-lsp",
    args: ["serve"],
    source: "setting",
  });
  assert.deepEqual(resolveServerCommand({ ...base, serverPath: "/usr/bin/python3.11" }).args, ["-m", "dg_lsp.cli", "serve"]);
  assert.deepEqual(resolveServerCommand({ ...base, serverPath: "/opt/dg", serverArgs: ["serve", "--tcp"] }).args, ["serve", "--tcp"]);
});

test("the active Python environment's dg-lsp script is preferred, else python -m", () => {
  const exists = (f: string) => f === "/venv/bin/dg-lsp";
  const viaScript = resolveServerCommand({ platform: "linux", exists, which: () => "/usr/local/bin/dg-lsp", pythonInterpreter: "/venv/bin/python" });
  assert.deepEqual(viaScript, { command: "/venv/bin/dg-lsp", args: ["serve"], source: "python-extension" });
  const viaModule = resolveServerCommand({ platform: "linux", exists: none, which: noWhich, pythonInterpreter: "/other/bin/python" });
  assert.deepEqual(viaModule, { command: "/other/bin/python", args: ["-m", "dg_lsp.cli", "serve"], source: "python-extension" });
});

test("without Python extension: dg-lsp on PATH, then python3 -m dg_lsp.cli", () => {
  assert.deepEqual(resolveServerCommand({ platform: "linux", exists: none, which: (n) => (n === "dg-lsp" ? "/usr/bin/dg-lsp" : undefined) }), {
    command: "/usr/bin/dg-lsp",
    args: ["serve"],
    source: "path",
  });
  assert.deepEqual(resolveServerCommand({ platform: "linux", exists: none, which: noWhich }), {
    command: "python3",
    args: ["-m", "dg_lsp.cli", "serve"],
    source: "python3",
  });
});

test("whichIn walks PATH in order and skips empty entries", () => {
  const exists = (f: string) => f === "/b/dg-lsp" || f === "/c/dg-lsp";
  assert.equal(whichIn("dg-lsp", ":/a:/b:/c", exists, "linux"), "/b/dg-lsp");
  assert.equal(whichIn("dg-lsp", "/a", exists, "linux"), undefined);
});

test("the document selector follows enabledLanguages; * means every language", () => {
  assert.deepEqual(documentSelector(["*"]).map((s) => s.language), ["*", "*"]);
  assert.deepEqual(documentSelector([]).map((s) => s.language), ["*", "*"]);
  assert.deepEqual(documentSelector(["python", "go", "python"]), [
    { scheme: "file", language: "python" },
    { scheme: "untitled", language: "python" },
    { scheme: "file", language: "go" },
    { scheme: "untitled", language: "go" },
  ]);
});

test("contributed defaults match the server's defaults (dg_lsp/options.py)", () => {
  const expected: Record<string, unknown> = {
    model: "embedded", device: null, maxContextTokens: 640, maxFillTokens: 64, debounceMs: 60, candidates: 3,
    holeMarker: "???", enabledLanguages: ["*"], completionItems: false, trustRemoteCode: false, inlineMultiline: true,
    modelOptions: {},
  };
  for (const key of SERVER_SETTING_KEYS) assert.deepEqual(contributed[`dgLsp.${key}`].default, expected[key], key);
});
