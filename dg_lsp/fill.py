"""`dg-lsp fill`: fill holes in a file, or serve a JSONL stream of requests (the model loads once).

Positions are 1-based `line:column`, columns counted in characters, range ends exclusive.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

EXT_LANG = {".py": "python", ".js": "javascript", ".jsx": "javascriptreact", ".ts": "typescript",
            ".tsx": "typescriptreact", ".go": "go", ".rs": "rust", ".java": "java", ".c": "c", ".h": "c",
            ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".cxx": "cpp"}


class FillError(ValueError):
    pass


def parse_point(text: str, spec: str) -> int:
    """`L:C` (1-based, columns in characters) -> character offset into `text`."""
    try:
        line_s, col_s = spec.split(":")
        line, col = int(line_s), int(col_s)
    except ValueError:
        raise FillError(f"bad position {spec!r}: expected LINE:COLUMN, both 1-based") from None
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        raise FillError(f"position {spec}: line {line} is outside the file (1..{len(lines)})")
    if not 1 <= col <= len(lines[line - 1]) + 1:
        raise FillError(f"position {spec}: column {col} is outside line {line} (1..{len(lines[line - 1]) + 1})")
    return sum(len(s) + 1 for s in lines[: line - 1]) + col - 1


def parse_spans(text: str, holes: list[str], points: list[str]) -> list[tuple[int, int]]:
    spans = []
    for h in holes:
        if "-" not in h:
            raise FillError(f"bad hole {h!r}: expected L:C-L:C")
        a, b = h.split("-", 1)
        s, e = parse_point(text, a), parse_point(text, b)
        if e < s:
            raise FillError(f"hole {h}: the end is before the start")
        spans.append((s, e))
    spans += [(p, p) for p in (parse_point(text, x) for x in points)]
    spans.sort()
    for (s1, e1), (s2, _) in zip(spans, spans[1:]):
        if s2 < e1:
            raise FillError("holes overlap")
    return spans


def build_segments(text: str, spans: list[tuple[int, int]], hole):
    segs, cur = [], 0
    for s, e in spans:
        segs += [text[cur:s], hole]
        cur = e
    segs.append(text[cur:])
    return segs


def _request_from_json(obj: dict, hole_defaults: dict):
    from engine.api import Hole, InfillRequest

    if "segments" in obj:
        segs = [s if isinstance(s, str) else Hole(**{**hole_defaults, **(s or {})}) for s in obj["segments"]]
    elif "prefix" in obj:
        segs = [obj["prefix"], Hole(**hole_defaults), obj.get("suffix", "")]
    else:
        raise FillError("each request needs 'prefix' (and 'suffix') or 'segments'")
    return InfillRequest(segs, language=obj.get("language", "python"), candidates=int(obj.get("candidates", 1)),
                         temperature=float(obj.get("temperature", 0.0)), seed=obj.get("seed", 0))


def run_jsonl(engine, stream, out, hole_defaults: dict) -> int:
    failures = 0
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        rid = None
        try:
            obj = json.loads(line)
            rid = obj.get("id", n)
            res = engine.infill(_request_from_json(obj, hole_defaults))
            answer = {"id": rid, "fill": res.fills[0], "fills": res.fills, "nfe": res.stats.nfe,
                      "ms": round(res.stats.ms["total"], 2)}
        except (ValueError, TypeError, KeyError) as exc:  # one bad line never stops the stream
            failures += 1
            answer = {"id": rid if rid is not None else n, "error": str(exc)}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 1 if failures else 0


def run_fill(args) -> int:
    from dg_lsp.cli import model_options
    from engine.api import Hole, InfillError, InfillRequest, load_engine

    hole = dict(max_tokens=args.max_tokens, single_line=args.single_line)
    try:
        if args.jsonl:
            engine = load_engine(args.model, args.device, trust_remote_code=args.trust_remote_code, **model_options(args))
            stream = sys.stdin if args.jsonl == "-" else open(args.jsonl, encoding="utf-8")
            return run_jsonl(engine, stream, sys.stdout, hole)
        if not args.file:
            raise FillError("give a FILE (with --hole/--at) or --jsonl IN")
        path = Path(args.file)
        text = path.read_text(encoding="utf-8")
        spans = parse_spans(text, args.hole, args.at)
        if not spans:
            raise FillError("nothing to fill: give at least one --hole L:C-L:C or --at L:C")
        language = args.language or EXT_LANG.get(path.suffix.lower(), "plaintext")
        engine = load_engine(args.model, args.device, trust_remote_code=args.trust_remote_code, **model_options(args))
        req = InfillRequest(build_segments(text, spans, Hole(**hole)), language=language,
                            candidates=args.candidates, temperature=args.temperature, seed=args.seed,
                            rule=args.rule, threshold=args.threshold)
        res = engine.infill(req)
    except (FillError, InfillError, OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"dg-lsp fill: {exc}", file=sys.stderr)
        return 2
    filled, cur = [], 0
    for (s, e), fill in zip(spans, res.fills):
        filled += [text[cur:s], fill]
        cur = e
    filled.append(text[cur:])
    whole = "".join(filled)
    if args.json:
        print(json.dumps({"fills": res.fills, "text": whole, "nfe": res.stats.nfe, "tokens": res.stats.tokens,
                          "ms": round(res.stats.ms["total"], 2), "candidates": [c.fills for c in res.candidates]}))
    else:
        sys.stdout.write(whole)
    return 0
