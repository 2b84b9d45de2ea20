// Loads the compiled extension (and vscode-languageclient/node through the node16 exports map) under
// plain node, with `vscode` replaced by a recording stub, and runs activate()/deactivate(). VS Code
// itself cannot run here. With DG_LSP_SERVER_PATH (and DG_LSP_SERVER_ARGS, a JSON list) set, the
// language client really starts that server: the handshake, the server's commands and the
// dgLsp/status → status bar path are then checked against the real thing (tests/editors does this).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Module = require("node:module");

const registered: string[] = [];
const statusTexts: string[] = [];
const settings: Record<string, unknown> = {
  "server.path": process.env.DG_LSP_SERVER_PATH ?? path.join(__dirname, "no-such-dg-lsp"),
  "server.args": process.env.DG_LSP_SERVER_ARGS ? JSON.parse(process.env.DG_LSP_SERVER_ARGS) : [],
};

// Any property is a callable, constructible stub; a few calls record what the extension asks for.
function stub(name: string): any {
  const fn = function () {
    return stub(`${name}()`);
  };
  return new Proxy(fn, {
    get(_t, prop) {
      if (prop === "then") return undefined; // not a thenable
      if (prop === Symbol.toPrimitive) return () => name;
      if (name === "vscode" && prop === "version") return "1.95.0";
      // Strings the language client puts into `initialize` (clientInfo, locale).
      if (name === "vscode.env" && typeof prop === "string") return prop === "language" ? "en" : `stub-${prop}`;
      if (name === "vscode.commands" && prop === "registerCommand") {
        return (id: string) => {
          registered.push(id);
          return { dispose() {} };
        };
      }
      if (name === "vscode.workspace" && prop === "getConfiguration") {
        return () => ({ get: (key: string, dflt?: unknown) => settings[key] ?? dflt });
      }
      if (name === "vscode.extensions" && prop === "getExtension") return () => undefined;
      if (name === "vscode.workspace" && prop === "workspaceFolders") return undefined;
      return stub(`${name}.${String(prop)}`);
    },
    set(_t, prop, value) {
      if (name.includes("createStatusBarItem") && prop === "text") statusTexts.push(String(value));
      return true;
    },
    construct() {
      return stub(`new ${name}`);
    },
  });
}

async function until(ms: number, cond: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setImmediate(r)); // yield to the I/O loop; no fixed sleeps
  }
  return true;
}

test("the extension activates, registers every contributed command, and deactivates", async () => {
  const vscodeStub = stub("vscode");
  const original = Module._load;
  Module._load = function (request: string, ...rest: unknown[]) {
    if (request === "vscode") return vscodeStub;
    return original.call(this, request, ...rest);
  };
  try {
    const ext = require("../extension");
    const context = { subscriptions: [] as unknown[] };
    let failure: unknown;
    await ext.activate(context).catch((err: unknown) => (failure = err));
    assert.equal(failure, undefined, `activate() threw: ${failure}`);

    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
    const contributed = pkg.contributes.commands.map((c: { command: string }) => c.command).sort();
    const ours = registered.filter((id) => id.startsWith("dg-lsp."));
    assert.deepEqual([...new Set(ours)].sort(), contributed);
    assert.equal(new Set(registered).size, registered.length, "a command id was registered twice");

    if (process.env.DG_LSP_SERVER_PATH) {
      // The real server: its executeCommand provider shows up as commands, and its status reaches the bar.
      for (const id of ["dgLsp.fillRanges", "dgLsp.fixLine", "dgLsp.fillHoles", "dgLsp.applyAlternative"]) {
        assert.ok(registered.includes(id), `server command ${id} not registered: ${registered}`);
      }
      const ready = await until(120_000, () => statusTexts.some((t) => t.includes("random:tiny")));
      assert.ok(ready, `no ready status from the server; status bar texts: ${JSON.stringify(statusTexts)}`);
    } else {
      // No server: activation survives and the status bar says so.
      assert.ok(statusTexts.some((t) => t.includes("error")), JSON.stringify(statusTexts));
    }
    await ext.deactivate();
  } finally {
    Module._load = original;
  }
});
