// workspace/executeCommand payloads for the server's commands. Shapes follow the docstring of
// dg_lsp/features/code_actions.py: one JSON object argument; `version` makes the server refuse to fill
// a document that changed since (ContentModified). Free of the `vscode` module: unit tested under node.
import { normalizeRanges, plainRange, type Pos, type Rng } from "./ranges";

export const SERVER_COMMANDS = {
  fillSelection: "dgLsp.fillSelection",
  fixLine: "dgLsp.fixLine",
  fillHoles: "dgLsp.fillHoles",
  fillRanges: "dgLsp.fillRanges",
  applyAlternative: "dgLsp.applyAlternative",
} as const;

export interface ExecuteCommandParams {
  command: string;
  arguments: unknown[];
}

/** All selections of all cursors, filled jointly in one request. */
export function fillRangesParams(uri: string, version: number, selections: readonly Rng[]): ExecuteCommandParams {
  const ranges = normalizeRanges(selections.map(plainRange));
  return { command: SERVER_COMMANDS.fillRanges, arguments: [{ uri, version, ranges }] };
}

export function fixLineParams(uri: string, version: number, position: Pos): ExecuteCommandParams {
  return {
    command: SERVER_COMMANDS.fixLine,
    arguments: [{ uri, version, line: position.line, position: { line: position.line, character: position.character } }],
  };
}

export function fillHolesParams(uri: string, version: number): ExecuteCommandParams {
  return { command: SERVER_COMMANDS.fillHoles, arguments: [{ uri, version }] };
}

/** Code action kind of the server's "dg-lsp alternative N" actions (computed on explicit invoke). */
export const ALTERNATIVE_KIND = "refactor.rewrite.dgLsp.alternative";

/** The server's command result is {applied, version, edits, failureReason?}: a message when not applied. */
export function failureMessage(result: unknown): string | undefined {
  if (!result || typeof result !== "object") return undefined;
  const r = result as { applied?: unknown; failureReason?: unknown };
  if (r.applied !== false) return undefined;
  return typeof r.failureReason === "string" && r.failureReason ? r.failureReason : "the edit was not applied";
}

/** Code actions whose command (or edit) comes from dg-lsp's alternatives, in server order. */
export function isAlternativeAction(action: { command?: unknown; kind?: unknown; title?: unknown }): boolean {
  const cmd = action.command;
  if (cmd && typeof cmd === "object" && (cmd as { command?: unknown }).command === SERVER_COMMANDS.applyAlternative) return true;
  if (typeof cmd === "string" && cmd === SERVER_COMMANDS.applyAlternative) return true;
  const kind = action.kind;
  const kindValue = kind && typeof kind === "object" ? (kind as { value?: unknown }).value : kind;
  return typeof kindValue === "string" && /(^|\.)dgLsp\.alternative/.test(kindValue);
}
