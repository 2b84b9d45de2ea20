// dgLsp/status notifications → status bar text. No `vscode` import: unit tested under node.

export type ServerState = "starting" | "loading" | "ready" | "busy" | "error" | "stopped";

export interface StatusParams {
  state?: string;
  device?: string;
  model?: string;
  message?: string;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** true when the item should use the error background colour. */
  error: boolean;
}

const ICONS: Record<ServerState, string> = {
  starting: "$(loading~spin)",
  loading: "$(loading~spin)",
  ready: "$(sparkle)",
  busy: "$(sync~spin)",
  error: "$(error)",
  stopped: "$(circle-slash)",
};

const KNOWN: ReadonlySet<string> = new Set(Object.keys(ICONS));

/** Unknown states from a newer server show as their own word rather than being dropped. */
export function statusView(params: StatusParams): StatusView {
  const state = params.state ?? "starting";
  const icon = KNOWN.has(state) ? ICONS[state as ServerState] : "$(info)";
  const where = [params.model, params.device].filter((s): s is string => !!s).join(" · ");
  const label = state === "ready" || state === "busy" ? where || state : state;
  const text = `${icon} dg-lsp${label ? ": " + label : ""}`;
  const lines = [`dg-lsp — ${state}`];
  if (params.model) lines.push(`model: ${params.model}`);
  if (params.device) lines.push(`device: ${params.device}`);
  if (params.message) lines.push(params.message);
  lines.push("Click to show the dg-lsp output.");
  return { text, tooltip: lines.join("\n"), error: state === "error" };
}
