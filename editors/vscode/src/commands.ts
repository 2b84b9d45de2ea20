// workspace/executeCommand payloads for the server's commands (see dg_lsp/features/code_actions.py).
// Kept free of the `vscode` module so node's test runner checks the shapes.
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

/** Code actions whose command (or edit) comes from dg-lsp's alternatives, in server order. */
export function isAlternativeAction(action: { command?: unknown; kind?: unknown; title?: unknown }): boolean {
  const cmd = action.command;
  if (cmd && typeof cmd === "object" && (cmd as { command?: unknown }).command === SERVER_COMMANDS.applyAlternative) return true;
  if (typeof cmd === "string" && cmd === SERVER_COMMANDS.applyAlternative) return true;
  const kind = action.kind;
  const kindValue = kind && typeof kind === "object" ? (kind as { value?: unknown }).value : kind;
  return typeof kindValue === "string" && /(^|\.)dgLsp\.alternative/.test(kindValue);
}
