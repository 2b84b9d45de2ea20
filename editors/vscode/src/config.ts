// Settings and server discovery, free of the `vscode` module so that node's test runner can check them.
import * as path from "node:path";

/** Settings the server reads (initializationOptions and workspace/configuration, section `dgLsp`).
 * Client-only settings (`dgLsp.server.*`, `dgLsp.trace.*`) are kept out of what the server sees,
 * so it never warns about keys it does not know. */
export const SERVER_SETTING_KEYS = [
  "model",
  "device",
  "maxContextTokens",
  "maxFillTokens",
  "debounceMs",
  "candidates",
  "holeMarker",
  "enabledLanguages",
  "completionItems",
  "trustRemoteCode",
  "inlineMultiline",
  "modelOptions",
] as const;

export type ServerSettingKey = (typeof SERVER_SETTING_KEYS)[number];
export type ServerOptions = Partial<Record<ServerSettingKey, unknown>>;

/** Picks the server's settings out of a configuration getter. Unset (undefined) and null values are
 * left out so the server applies its own defaults rather than ours. */
export function toServerOptions(get: (key: string) => unknown): ServerOptions {
  const out: ServerOptions = {};
  for (const key of SERVER_SETTING_KEYS) {
    const value = get(key);
    if (value !== undefined && value !== null && value !== "") out[key] = value;
  }
  return out;
}

/** Answers a workspace/configuration item: the `dgLsp` section (or a key inside it) with client-only
 * keys removed. Any other section is passed through untouched. */
export function filterConfigurationResult(section: string | undefined, value: unknown): unknown {
  if (section !== "dgLsp" || value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const source = value as Record<string, unknown>;
  return toServerOptions((key) => source[key]);
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** How the command was found, for the output channel. */
  source: "setting" | "python-extension" | "path" | "python3";
}

export interface DiscoveryInput {
  /** `dgLsp.server.path`: an explicit executable (or a Python interpreter, recognised by its name). */
  serverPath?: string;
  /** `dgLsp.server.args`: replaces the default `serve` arguments when non-empty. */
  serverArgs?: string[];
  /** The Python extension's selected interpreter for the workspace, if that extension is installed. */
  pythonInterpreter?: string;
  platform: NodeJS.Platform;
  exists: (file: string) => boolean;
  /** Resolves an executable name on PATH. */
  which: (name: string) => string | undefined;
}

const SERVE_ARGS = ["serve"];
const MODULE_ARGS = ["-m", "dg_lsp.cli", "serve"];

function looksLikePython(file: string): boolean {
  return /^python(\d+(\.\d+)?)?(\.exe)?$/i.test(path.basename(file));
}

/** Finds how to start the server: the explicit setting, then the active Python environment (its
 * `dg-lsp` script, else `python -m dg_lsp.cli`), then `dg-lsp` on PATH, then `python3 -m dg_lsp.cli`. */
export function resolveServerCommand(input: DiscoveryInput): ServerCommand {
  const extraArgs = input.serverArgs && input.serverArgs.length > 0 ? input.serverArgs : undefined;
  if (input.serverPath) {
    const viaPython = looksLikePython(input.serverPath);
    return {
      command: input.serverPath,
      args: extraArgs ?? (viaPython ? MODULE_ARGS : SERVE_ARGS),
      source: "setting",
    };
  }
  if (input.pythonInterpreter) {
    const binDir = path.dirname(input.pythonInterpreter);
    const scriptNames = input.platform === "win32" ? ["dg-lsp.exe", "Scripts\\dg-lsp.exe"] : ["dg-lsp"];
    for (const name of scriptNames) {
      const candidate = input.platform === "win32" ? path.win32.join(binDir, name) : path.join(binDir, name);
      if (input.exists(candidate)) return { command: candidate, args: extraArgs ?? SERVE_ARGS, source: "python-extension" };
    }
    return { command: input.pythonInterpreter, args: extraArgs ?? MODULE_ARGS, source: "python-extension" };
  }
  const onPath = input.which(input.platform === "win32" ? "dg-lsp.exe" : "dg-lsp");
  if (onPath) return { command: onPath, args: extraArgs ?? SERVE_ARGS, source: "path" };
  return { command: input.platform === "win32" ? "python" : "python3", args: extraArgs ?? MODULE_ARGS, source: "python3" };
}

/** A PATH lookup with injectable environment, so tests need no real files. */
export function whichIn(name: string, envPath: string, exists: (file: string) => boolean, platform: NodeJS.Platform): string | undefined {
  const sep = platform === "win32" ? ";" : ":";
  for (const dir of envPath.split(sep)) {
    if (!dir) continue;
    const file = platform === "win32" ? path.win32.join(dir, name) : path.join(dir, name);
    if (exists(file)) return file;
  }
  return undefined;
}

/** The language client's document selector for `dgLsp.enabledLanguages` ("*" or empty: every language). */
export function documentSelector(languages: readonly string[] | undefined): { scheme: string; language: string }[] {
  const ids = !languages || languages.length === 0 || languages.includes("*") ? ["*"] : [...new Set(languages)];
  return ids.flatMap((language) => [
    { scheme: "file", language },
    { scheme: "untitled", language },
  ]);
}
