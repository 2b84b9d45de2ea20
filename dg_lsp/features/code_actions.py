"""textDocument/codeAction and the workspace/executeCommand commands behind them.

Code actions are cheap to list (no engine run) except on an explicit invoke (`triggerKind` 1),
where up to three alternatives for the selection (or the statement under the cursor) are computed
and offered as separate actions. Every command applies its result with `workspace/applyEdit`,
as a versioned `TextDocumentEdit`; the server checks the document version first and never applies
an edit computed for version v to another version (the client can refuse a mismatch too).

Command arguments — every command takes exactly ONE argument, a JSON object
(positions and ranges are LSP `Position`/`Range` objects in the negotiated encoding, UTF-16 by default):

* ``dgLsp.fillSelection``  ``{"uri": str, "version"?: int, "range": Range}``
  Refill the range; a ragged range is grown to whole syntax nodes first.
* ``dgLsp.fixLine``  ``{"uri": str, "version"?: int, "position"?: Position, "line"?: int, "range"?: Range}``
  Refill `range` (e.g. a diagnostic's range, snapped to syntax) when given, else the statement on
  `position`'s line (or `line`).
* ``dgLsp.fillHoles``  ``{"uri": str, "version"?: int, "position"?: Position, "marker"?: str}``
  Fill every hole marker (setting `holeMarker`, default ``???``) in the innermost function/class
  around `position` (the whole file without `position`), jointly, in one engine request.
* ``dgLsp.fillRanges``  ``{"uri": str, "version"?: int, "ranges": Range[]}``
  Fill all ranges jointly (an editor's multiple selections; empty ranges are insertion points).
  Ranges are used as given (no snapping) and must not overlap.
* ``dgLsp.applyAlternative``  ``{"uri": str, "version": int, "edits": [{"range": Range, "newText": str}]}``
  Apply a precomputed alternative (what the "dg-lsp alternative N" code actions carry).

`version`, when given, is the document version the arguments refer to: if the server's copy has
another version the command fails with ContentModified (-32801) and nothing is applied.
Result: ``{"applied": bool, "version": int, "edits": [{"range": Range, "newText": str}],
"failureReason"?: str}``. Errors: InvalidParams (-32602) for bad arguments or positions,
ServerNotInitialized (-32002) while the model loads, RequestCancelled (-32800), ContentModified
(-32801) when the document changed while filling, InternalError (-32603) for engine failures.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from dg_lsp import context
from dg_lsp.context import HoleSpan
from dg_lsp.documents import DocumentError, Snapshot
from dg_lsp.features import infill
from dg_lsp.language_server import DgServer  # at runtime: pygls resolves handler annotations

log = logging.getLogger(__name__)

FILL_SELECTION, FIX_LINE, FILL_HOLES = "dgLsp.fillSelection", "dgLsp.fixLine", "dgLsp.fillHoles"
FILL_RANGES, APPLY_ALTERNATIVE = "dgLsp.fillRanges", "dgLsp.applyAlternative"
KIND_FILL = "refactor.rewrite.dgLsp.fill"
KIND_FIX = "quickfix.dgLsp.fixLine"
KIND_HOLES = "refactor.rewrite.dgLsp.fillHoles"
KIND_ALT = "refactor.rewrite.dgLsp.alternative"
KINDS = [KIND_FILL, KIND_FIX, KIND_HOLES, KIND_ALT]
MAX_ALTERNATIVES = 3


# -- argument (de)serialisation: plain JSON, so every client can build and read it --------------

def pos_json(p: types.Position) -> dict[str, int]:
    return {"line": p.line, "character": p.character}


def range_json(r: types.Range) -> dict[str, Any]:
    return {"start": pos_json(r.start), "end": pos_json(r.end)}


def _position(value: Any, name: str) -> types.Position:
    try:
        line, ch = value["line"], value["character"]
        if not (isinstance(line, int) and isinstance(ch, int)) or line < 0 or ch < 0:
            raise TypeError
        return types.Position(line=line, character=ch)
    except (TypeError, KeyError) as exc:
        raise JsonRpcInvalidParams(f"dg-lsp: {name} must be a Position {{line, character}}, got {value!r}") from exc


def _range(value: Any, name: str) -> types.Range:
    if not isinstance(value, dict):
        raise JsonRpcInvalidParams(f"dg-lsp: {name} must be a Range {{start, end}}, got {value!r}")
    return types.Range(start=_position(value.get("start"), f"{name}.start"), end=_position(value.get("end"), f"{name}.end"))


def _args(ls: DgServer, args: tuple) -> tuple[dict[str, Any], Snapshot]:
    if len(args) != 1 or not isinstance(args[0], dict) or not isinstance(args[0].get("uri"), str):
        raise JsonRpcInvalidParams("dg-lsp: expected one argument {uri, version?, ...}")
    arg = args[0]
    snap = ls.snapshot(arg["uri"])
    if snap is None:
        raise JsonRpcInvalidParams(f"dg-lsp: {arg['uri']} is not open")
    version = arg.get("version")
    if version is not None and version != snap.version:
        raise infill.stale_error(snap)
    return arg, snap


def _offsets(snap: Snapshot, rng: types.Range) -> tuple[int, int]:
    try:
        return snap.range_at(rng)
    except DocumentError as exc:
        raise JsonRpcInvalidParams(f"dg-lsp: {exc}") from exc


# -- holes for each command ------------------------------------------------------------------------

def selection_holes(ls: DgServer, snap: Snapshot, start: int, end: int) -> list[HoleSpan]:
    s, e = context.snap_range(snap, start, end)
    if s == e:
        raise JsonRpcInvalidParams("dg-lsp: the selection is empty")
    return [infill.selection_hole(ls, snap, s, e)]


def fix_holes(ls: DgServer, snap: Snapshot, offset: int, target: tuple[int, int] | None) -> list[HoleSpan]:
    s, e = context.snap_range(snap, *target) if target else context.statement_range(snap, offset)
    if s == e:  # a blank line: fill it
        return [HoleSpan(s, e, ls.settings.single_line_tokens, single_line=True)]
    return [infill.selection_hole(ls, snap, s, e)]


def marker_holes(ls: DgServer, snap: Snapshot, offset: int | None, marker: str) -> list[HoleSpan]:
    found = (context.marker_ranges(snap, offset, marker) if offset is not None
             else [(i, i + len(marker)) for i in _all(snap.text, marker)])
    holes = []
    for s, e in found:
        line = snap.line_of(s)
        ls_, le = snap.line_span(line)
        alone = not (snap.text[ls_:s] + snap.text[e:le]).strip()  # `???` on its own line: a block
        holes.append(HoleSpan(s, e, ls.settings.max_fill_tokens if alone else ls.settings.single_line_tokens,
                              single_line=not alone))
    return holes


def _all(text: str, marker: str):
    i = text.find(marker)
    while marker and i != -1:
        yield i
        i = text.find(marker, i + len(marker))


# -- running a command -------------------------------------------------------------------------------

async def apply_outcome(ls: DgServer, snap: Snapshot, holes: list[HoleSpan], fills: list[str], label: str) -> dict:
    if infill.stale(ls, snap):
        raise infill.stale_error(snap)
    edit = infill.workspace_edit(snap, holes, fills)
    result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
    out = {"applied": bool(result.applied), "version": snap.version,
           "edits": [{"range": range_json(snap.to_range(h.start, h.end)), "newText": f} for h, f in zip(holes, fills)]}
    if not result.applied:
        out["failureReason"] = result.failure_reason or "the client refused the edit"
    return out


async def run_fill_command(ls: DgServer, snap: Snapshot, holes: list[HoleSpan], label: str) -> dict:
    if not holes:
        return {"applied": False, "version": snap.version, "edits": [], "failureReason": "nothing to fill"}
    try:
        # Several candidates, so that one adding parse errors (or an empty one) loses to another.
        out = await infill.fill(ls, snap, holes, candidates=ls.settings.candidates, key=f"{snap.uri}#command")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise infill.lsp_error(exc) from exc
    if not out.ranked:
        return {"applied": False, "version": snap.version, "edits": [], "failureReason": "the model produced no fill"}
    return await apply_outcome(ls, snap, out.holes, out.ranked[0].fills, label)


async def fill_selection(ls: DgServer, *args) -> dict:
    arg, snap = _args(ls, args)
    start, end = _offsets(snap, _range(arg.get("range"), "range"))
    return await run_fill_command(ls, snap, selection_holes(ls, snap, start, end), "dg-lsp: fill selection")


async def fix_line(ls: DgServer, *args) -> dict:
    arg, snap = _args(ls, args)
    target = _offsets(snap, _range(arg["range"], "range")) if arg.get("range") is not None else None
    if arg.get("position") is not None:
        offset = _offsets(snap, types.Range(start=(p := _position(arg["position"], "position")), end=p))[0]
    elif isinstance(arg.get("line"), int) and 0 <= arg["line"] < snap.line_count:
        offset = snap.line_span(arg["line"])[1]
    elif target is not None:
        offset = target[0]
    else:
        raise JsonRpcInvalidParams("dg-lsp: fixLine needs position, line or range")
    return await run_fill_command(ls, snap, fix_holes(ls, snap, offset, target), "dg-lsp: fix line")


async def fill_holes(ls: DgServer, *args) -> dict:
    arg, snap = _args(ls, args)
    marker = arg.get("marker") if isinstance(arg.get("marker"), str) and arg.get("marker") else ls.settings.hole_marker
    offset = None
    if arg.get("position") is not None:
        p = _position(arg["position"], "position")
        offset = _offsets(snap, types.Range(start=p, end=p))[0]
    return await run_fill_command(ls, snap, marker_holes(ls, snap, offset, marker), "dg-lsp: fill holes")


async def fill_ranges(ls: DgServer, *args) -> dict:
    arg, snap = _args(ls, args)
    ranges = arg.get("ranges")
    if not isinstance(ranges, list) or not ranges:
        raise JsonRpcInvalidParams("dg-lsp: fillRanges needs a non-empty list of ranges")
    holes = []
    for i, r in enumerate(ranges):
        s, e = _offsets(snap, _range(r, f"ranges[{i}]"))
        holes.append(infill.selection_hole(ls, snap, s, e) if s != e else
                     HoleSpan(s, e, ls.settings.single_line_tokens, single_line=True))
    holes.sort(key=lambda h: h.start)
    if any(b.start < a.end for a, b in zip(holes, holes[1:])):
        raise JsonRpcInvalidParams("dg-lsp: fillRanges ranges overlap")
    return await run_fill_command(ls, snap, holes, "dg-lsp: fill ranges")


async def apply_alternative(ls: DgServer, *args) -> dict:
    arg, snap = _args(ls, args)
    if arg.get("version") is None or not isinstance(arg.get("edits"), list):
        raise JsonRpcInvalidParams("dg-lsp: applyAlternative needs version and edits")
    holes, fills = [], []
    for i, e in enumerate(arg["edits"]):
        if not isinstance(e, dict) or not isinstance(e.get("newText"), str):
            raise JsonRpcInvalidParams(f"dg-lsp: edits[{i}] must be {{range, newText}}")
        s, t = _offsets(snap, _range(e.get("range"), f"edits[{i}].range"))
        holes.append(HoleSpan(s, t, 1))
        fills.append(e["newText"])
    return await apply_outcome(ls, snap, holes, fills, "dg-lsp: alternative")


# -- textDocument/codeAction ---------------------------------------------------------------------------

def _action(title: str, kind: str, command: str, arg: dict, diagnostics=None) -> types.CodeAction:
    return types.CodeAction(title=title, kind=kind, diagnostics=diagnostics,
                            command=types.Command(title=title, command=command, arguments=[arg]))


def _preview(fills: list[str]) -> str:
    text = " … ".join(f.strip().replace("\n", " ⏎ ") for f in fills)
    return text if len(text) <= 60 else text[:59] + "…"


async def code_action(ls: DgServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    snap = ls.snapshot(params.text_document.uri)
    if snap is None or not ls.settings.language_enabled(snap.language_id):
        return []
    start, end = _offsets(snap, params.range)
    base = {"uri": snap.uri, "version": snap.version}
    actions: list[types.CodeAction] = []
    if start != end:
        actions.append(_action("Fill selection (dg-lsp)", KIND_FILL, FILL_SELECTION, {**base, "range": range_json(params.range)}))
    diags = list(params.context.diagnostics or [])
    fix = {**base, "position": pos_json(params.range.start)}
    if diags:
        fix["range"] = range_json(diags[0].range)
        title = f"Fix with dg-lsp: {diags[0].message.splitlines()[0][:50]}"
    else:
        title = "Fix this line (dg-lsp)"
    actions.append(_action(title, KIND_FIX, FIX_LINE, fix, diags[:1] or None))
    markers = context.marker_ranges(snap, start, ls.settings.hole_marker)
    if markers:
        actions.append(_action(f"Fill {len(markers)} hole{'s' * (len(markers) > 1)} (dg-lsp)", KIND_HOLES,
                               FILL_HOLES, {**base, "position": pos_json(params.range.start)}))
    only = params.context.only

    def wanted(kind: str) -> bool:
        return not only or any(kind == k or kind.startswith(f"{k}.") for k in only)

    invoked = params.context.trigger_kind == types.CodeActionTriggerKind.Invoked
    if invoked and ls.host.ready and wanted(KIND_ALT):  # the engine runs only when asked explicitly
        actions += await alternatives(ls, snap, start, end, diags, base)
    return [a for a in actions if wanted(a.kind)]


async def alternatives(ls: DgServer, snap: Snapshot, start: int, end: int, diags, base: dict) -> list[types.CodeAction]:
    target = _offsets(snap, diags[0].range) if diags and start == end else None
    holes = selection_holes(ls, snap, start, end) if start != end else fix_holes(ls, snap, start, target)
    try:
        out = await infill.fill(ls, snap, holes, candidates=min(MAX_ALTERNATIVES, ls.settings.candidates),
                                key=f"{snap.uri}#actions")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # alternatives are optional: the other actions still go out
        log.info("alternatives for %s unavailable: %r", snap.uri, exc)
        return []
    actions = []
    for i, r in enumerate(out.ranked[:MAX_ALTERNATIVES]):
        edits_json = [{"range": range_json(snap.to_range(h.start, h.end)), "newText": f} for h, f in zip(out.holes, r.fills)]
        actions.append(_action(f"dg-lsp alternative {i + 1}: {_preview(r.fills)}", KIND_ALT, APPLY_ALTERNATIVE,
                               {**base, "edits": edits_json}))
    return actions


def register(server: DgServer) -> None:
    server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                   types.CodeActionOptions(code_action_kinds=KINDS, resolve_provider=False))(code_action)
    for name, fn in [(FILL_SELECTION, fill_selection), (FIX_LINE, fix_line), (FILL_HOLES, fill_holes),
                     (FILL_RANGES, fill_ranges), (APPLY_ALTERNATIVE, apply_alternative)]:
        server.command(name)(fn)
