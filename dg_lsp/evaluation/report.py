"""Showing an evaluation: progress on stderr while it runs, then a table or one JSON object, and the
per-candidate samples file (openai/human-eval's {task_id, completion} JSONL) for independent checking."""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from dg_lsp.evaluation.harness import ProblemResult


class Progress:
    """A counter with rate and ETA. On a terminal it redraws one line; otherwise (CI logs) it prints a
    line every `every_s` seconds and at the end."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, every_s: float = 30.0) -> None:
        self.total, self.label, self.every_s = total, label, every_s
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self.last_print = -1e9
        self.tty = self.stream.isatty()

    def __call__(self, filled: int, tested: int, total_tests: int) -> None:
        now = time.perf_counter()
        done = filled == self.total and tested == total_tests
        if not self.tty and not done and now - self.last_print < self.every_s:
            return
        self.last_print = now
        elapsed = now - self.start
        # Whichever queue finishes last: fills (serial, engine-bound) or tests (the sandbox pool).
        fill_eta = elapsed / filled * (self.total - filled) if filled else float("nan")
        test_eta = elapsed / tested * (total_tests - tested) if tested else float("nan")
        eta = max(fill_eta, test_eta) if tested else fill_eta
        line = (f"[eval {self.label}] filled {filled}/{self.total} · tested {tested}/{total_tests} · "
                f"{elapsed:.0f}s elapsed · ETA {_duration(eta)}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    if seconds != seconds:  # NaN: no rate yet
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table(report: dict[str, Any]) -> str:
    """A small two-column table of the headline numbers."""
    keys = [k for k in report if k.startswith("pass@") or k == "greedy_pass@1"]
    keys += ["exact", "parse", "content", "content_passes", "line_passes", "ms_median", "ms_p95", "nfe_median",
             "tokens_per_step_median", "fill_tokens_per_step_median", "errors", "timeouts"]
    labels = {"exact": "exact match", "parse": "parses", "content": "fills with content",
              "content_passes": "passes with content", "line_passes": "passes, >= 2 words",
              "ms_median": "ms/fill p50", "ms_p95": "ms/fill p95",
              "nfe_median": "forward passes p50", "tokens_per_step_median": "tokens/step p50",
              "fill_tokens_per_step_median": "fill tokens/step p50",
              "errors": "engine errors", "timeouts": "test timeouts"}
    head = (f"humaneval-infilling {report['subset']} · model {report['model']} · n={report['n']} "
            f"· candidates={report['candidates']}")
    if report.get("sampler"):
        head += " · sampler " + ", ".join(f"{k}={v}" for k, v in report["sampler"].items())
    rows = [(labels.get(k, k), _fmt(report.get(k))) for k in keys]
    width = max(len(label) for label, _ in rows)
    lines = [head, "-" * len(head)] + [f"{label:<{width}}  {value:>10}" for label, value in rows]
    lines.append(f"{'wall s':<{width}}  {_fmt(report.get('wall_s')):>10}")
    return "\n".join(lines)


def write_samples(path: str | Path, results: Sequence[ProblemResult], candidates: int) -> None:
    """One line per problem and candidate: task_id and completion (upstream's sample format), plus our
    verdict. A candidate the engine did not return (an error) has completion null: failed, not run."""
    with open(path, "w", encoding="utf-8") as f:
        for r in results:
            for i in range(candidates):
                run = r.runs[i] if i < len(r.runs) else None
                completion = r.completions[i] if i < len(r.completions) else None
                status = run.status if run else "engine error"
                f.write(json.dumps({"task_id": r.task_id, "completion": completion, "candidate": i,
                                    "passed": bool(run and run.passed), "status": status}) + "\n")
