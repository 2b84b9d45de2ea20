// VS Code glue: start dg-lsp, map settings, commands and the status bar. Inline completions come
// from vscode-languageclient's built-in LSP 3.18 textDocument/inlineCompletion support.
import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  State,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import {
  ALTERNATIVE_KIND,
  failureMessage,
  fillHolesParams,
  fillRangesParams,
  fixLineParams,
  isAlternativeAction,
  type ExecuteCommandParams,
} from "./commands";
import { documentSelector, filterConfigurationResult, resolveServerCommand, toServerOptions, whichIn } from "./config";
import { statusView, type StatusParams } from "./status";

const SECTION = "dgLsp";
let client: LanguageClient | undefined;
let output: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, process.platform === "win32" ? fs.constants.F_OK : fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The Python extension's interpreter for this workspace, when that extension is installed. */
async function pythonInterpreter(): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) return undefined;
  try {
    const api = ext.isActive ? ext.exports : await ext.activate();
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    const env = api?.environments?.getActiveEnvironmentPath?.(resource);
    const resolved = env ? await api.environments.resolveEnvironment?.(env) : undefined;
    return resolved?.executable?.uri?.fsPath ?? env?.path;
  } catch (err) {
    output.appendLine(`dg-lsp: could not ask the Python extension for its interpreter: ${err}`);
    return undefined;
  }
}

function showStatus(params: StatusParams): void {
  const view = statusView(params);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor = view.error ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  statusItem.show();
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const serverPath = cfg.get<string>("server.path") || undefined;
  const found = resolveServerCommand({
    serverPath,
    serverArgs: cfg.get<string[]>("server.args"),
    pythonInterpreter: serverPath ? undefined : await pythonInterpreter(),
    platform: process.platform,
    exists: isExecutable,
    which: (name) => whichIn(name, process.env.PATH ?? "", isExecutable, process.platform),
  });
  output.appendLine(`dg-lsp: starting ${found.command} ${found.args.join(" ")} (found via ${found.source})`);
  const serverOptions: ServerOptions = { command: found.command, args: found.args, options: { env: process.env } };
  const clientOptions: LanguageClientOptions = {
    documentSelector: documentSelector(cfg.get<string[]>("enabledLanguages")),
    outputChannel: output,
    initializationOptions: toServerOptions((key) => cfg.get(key)),
    middleware: {
      workspace: {
        // The server pulls `dgLsp`; hand it only the keys it owns.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) return result;
          return result.map((value, i) => filterConfigurationResult(params.items[i]?.section, value));
        },
      },
    },
  };
  showStatus({ state: "starting" });
  client = new LanguageClient("dgLsp", "dg-lsp", serverOptions, clientOptions);
  client.onDidChangeState((e) => {
    if (e.newState === State.Stopped) showStatus({ state: "stopped" });
  });
  context.subscriptions.push(client.onNotification("dgLsp/status", (params: StatusParams) => showStatus(params)));
  try {
    await client.start();
  } catch (err) {
    showStatus({ state: "error", message: `could not start ${found.command}: ${err}` });
    output.appendLine(`dg-lsp: failed to start: ${err}. Set "dgLsp.server.path" or install dg-lsp in your Python environment.`);
  }
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  // A client whose start failed is not running and cannot be stopped (stop() would throw).
  if (c && c.isRunning()) await c.stop();
}

async function execute(params: ExecuteCommandParams): Promise<void> {
  if (!client || client.state !== State.Running) {
    void vscode.window.showWarningMessage("dg-lsp is not running.");
    return;
  }
  try {
    // The server applies its result with a workspace/applyEdit request (the language client does
    // the edit) and answers {applied, failureReason?}.
    const result = await client.sendRequest(ExecuteCommandRequest.type, params);
    const failure = failureMessage(result);
    if (failure) void vscode.window.showWarningMessage(`dg-lsp: ${failure}`);
  } catch (err) {
    void vscode.window.showErrorMessage(`dg-lsp: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function showAlternatives(editor: vscode.TextEditor): Promise<void> {
  const range = editor.selection;
  const actions =
    (await vscode.commands.executeCommand<(vscode.CodeAction | vscode.Command)[]>(
      "vscode.executeCodeActionProvider",
      editor.document.uri,
      range,
      ALTERNATIVE_KIND,
    )) ?? [];
  const alternatives = actions.filter((a) => isAlternativeAction(a as { command?: unknown; kind?: unknown }));
  if (alternatives.length === 0) {
    // No alternatives code action here: cycle the inline suggestion's own candidates instead.
    await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
    await vscode.commands.executeCommand("editor.action.inlineSuggest.showNext");
    return;
  }
  const picked = await vscode.window.showQuickPick(
    alternatives.map((a) => ({ label: a.title, action: a })),
    { placeHolder: "dg-lsp alternatives" },
  );
  if (!picked) return;
  const action = picked.action;
  if (typeof action.command === "string") {
    const c = action as vscode.Command;
    await vscode.commands.executeCommand(c.command, ...(c.arguments ?? []));
    return;
  }
  const codeAction = action as vscode.CodeAction;
  if (codeAction.edit) await vscode.workspace.applyEdit(codeAction.edit);
  if (codeAction.command) await vscode.commands.executeCommand(codeAction.command.command, ...(codeAction.command.arguments ?? []));
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("dg-lsp", { log: true });
  statusItem = vscode.window.createStatusBarItem("dgLsp.status", vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "dg-lsp";
  statusItem.command = "dg-lsp.showOutput";
  context.subscriptions.push(output, statusItem);

  const withEditor = (fn: (editor: vscode.TextEditor) => unknown) => () => {
    const editor = vscode.window.activeTextEditor;
    if (editor) return fn(editor);
  };
  context.subscriptions.push(
    vscode.commands.registerCommand("dg-lsp.showOutput", () => output.show(true)),
    vscode.commands.registerCommand("dg-lsp.restart", async () => {
      await stopClient();
      await startClient(context);
    }),
    vscode.commands.registerCommand(
      "dg-lsp.fillSelections",
      withEditor((e) => execute(fillRangesParams(e.document.uri.toString(), e.document.version, e.selections))),
    ),
    vscode.commands.registerCommand(
      "dg-lsp.fixLine",
      withEditor((e) => execute(fixLineParams(e.document.uri.toString(), e.document.version, e.selection.active))),
    ),
    vscode.commands.registerCommand(
      "dg-lsp.fillHoles",
      withEditor((e) => execute(fillHolesParams(e.document.uri.toString(), e.document.version))),
    ),
    vscode.commands.registerCommand("dg-lsp.showAlternatives", withEditor(showAlternatives)),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      if (e.affectsConfiguration(`${SECTION}.server`) || e.affectsConfiguration(`${SECTION}.enabledLanguages`)) {
        await stopClient();
        await startClient(context);
        return;
      }
      // Push semantics for servers that do not pull workspace/configuration.
      const cfg = vscode.workspace.getConfiguration(SECTION);
      await client?.sendNotification("workspace/didChangeConfiguration", {
        settings: { [SECTION]: toServerOptions((key) => cfg.get(key)) },
      });
    }),
  );
  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
