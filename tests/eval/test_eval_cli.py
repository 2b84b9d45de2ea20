"""`dg-lsp eval humaneval-infilling` end to end: arguments in, one JSON object (or a table) out."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dg_lsp.cli import build_parser
from dg_lsp.evaluation import run_eval
from dg_lsp.evaluation.harness import Fill, canonical_filler
from dg_lsp.evaluation.data import Problem

REPO = Path(__file__).resolve().parents[2]
SCHEMA = {"benchmark": str, "subset": str, "model": str, "n": int, "candidates": int, "pass@1": float,
          "exact": float, "parse": float, "ms_median": (float, type(None)), "ms_p95": (float, type(None)),
          "nfe_median": (int, float, type(None)), "tokens_per_step_median": (float, type(None)),
          "fill_tokens_per_step_median": (float, type(None)),
          "errors": int, "timeouts": int, "max_tokens": int, "timeout_s": float, "wall_s": float,
          "engine": dict, "sandbox": dict}


def _args(*extra: str):
    return build_parser().parse_args(["eval", "humaneval-infilling", *extra])


def half_right(problem: Problem) -> Fill:
    """Canonical on even lines of a task, an empty line elsewhere: a known mix of passes and failures."""
    line = int(problem.task_id.rsplit("/L", 1)[1].split("_")[0])
    text = canonical_filler(problem).texts[0] if line % 2 == 0 else ""
    return Fill(texts=[text], ms=10.0 + line, nfe=3, tokens_per_step=2.0)


def test_json_report_has_the_schema_and_true_numbers(capsys):
    assert run_eval(_args("--limit", "4", "--json"), fill=half_right) == 0
    report = json.loads(capsys.readouterr().out)
    for key, kind in SCHEMA.items():
        assert isinstance(report[key], kind), (key, report[key])
    # HumanEval/0 lines L0..L3: even ones canonical (pass, exact), odd ones empty (fail).
    assert report["n"] == 4 and report["subset"] == "single-line"
    assert report["pass@1"] == 0.5 and report["exact"] == 0.5
    assert report["ms_median"] == 11.5 and report["ms_p95"] == 13.0 and report["max_tokens"] == 48


def test_candidates_add_pass_at_k(capsys):
    def two(problem: Problem) -> Fill:
        return Fill(texts=["", canonical_filler(problem).texts[0]], ms=1.0)

    assert run_eval(_args("--limit", "2", "--candidates", "2", "--json", "--subset", "multi-line"), fill=two) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pass@1"] == 0.5 and report["pass@2"] == 1.0 and report["max_tokens"] == 128


def test_table_output_and_progress_on_stderr(capsys):
    assert run_eval(_args("--limit", "2"), fill=half_right) == 0
    captured = capsys.readouterr()
    assert "pass@1" in captured.out and "exact match" in captured.out
    assert "filled 2/2" in captured.err


def test_missing_data_is_exit_code_2_with_a_message(tmp_path, capsys):
    assert run_eval(_args("--data", str(tmp_path / "nowhere")), fill=half_right) == 2
    assert "no such folder" in capsys.readouterr().err


def test_module_entry_point_runs_the_canonical_self_check_and_writes_samples(tmp_path):
    samples = tmp_path / "samples.jsonl"
    proc = subprocess.run([sys.executable, "-m", "dg_lsp.evaluation", "humaneval-infilling", "--model",
                           "oracle:canonical", "--subset", "multi-line", "--limit", "3", "--json",
                           "--samples", str(samples), "--workers", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["pass@1"], report["exact"], report["n"]) == (1.0, 1.0, 3)
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert [line["task_id"] for line in lines] == ["MultiLineInfilling/HumanEval/0/L0_L0",
                                                    "MultiLineInfilling/HumanEval/0/L0_L1",
                                                    "MultiLineInfilling/HumanEval/0/L0_L2"]
    assert all(line["passed"] and line["completion"].endswith("\n") for line in lines)


@pytest.mark.slow
def test_random_tiny_engine_through_the_cli(tmp_path):
    pytest.importorskip("engine.runtime", reason="engine.runtime has not landed")
    proc = subprocess.run([sys.executable, "-m", "dg_lsp.cli", "eval", "humaneval-infilling", "--model",
                           "random:tiny", "--device", "cpu", "--limit", "3", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for key, kind in SCHEMA.items():
        assert isinstance(report[key], kind), (key, report[key])
    assert report["n"] == 3 and report["errors"] == 0
    assert report["nfe_median"] >= 1 and report["ms_median"] > 0


def test_a_run_where_every_fill_failed_exits_1_and_says_why(capsys):
    def broken(problem: Problem) -> Fill:
        return Fill(texts=[], ms=0.1, error="RuntimeError: CUDA out of memory")

    assert run_eval(_args("--limit", "2", "--json"), fill=broken) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["errors"] == 2 and report["pass@1"] == 0.0
    assert "2 of 2 fills failed" in captured.err and "CUDA out of memory" in captured.err
    assert "tested 2/2" in captured.err  # failed fills settle the progress count too


def test_sampler_settings_reach_the_engine_and_a_bad_one_fails_before_any_model_loads(monkeypatch, capsys):
    import dg_lsp.evaluation as evaluation
    import engine.api

    seen = {}
    real = evaluation.engine_filler

    def spy(engine, **kwargs):
        seen["sampler"] = engine.sampler
        return real(engine, **kwargs)

    monkeypatch.setattr(evaluation, "engine_filler", spy)
    args = _args("--limit", "1", "--model", "random:tiny", "--device", "cpu", "--json",
                 "--sampler", "syntax_retries=0", "--sampler", "threshold=1")
    assert run_eval(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sampler"] == {"syntax_retries": 0, "threshold": 1}
    cfg = seen["sampler"]
    assert cfg.syntax_retries == 0 and cfg.threshold == 1.0 and isinstance(cfg.threshold, float)
    assert cfg.fallback == "leftmost" and cfg.end_run_conf == 0.7  # the rest stays the backend's defaults

    def no_load(*a, **k):
        raise AssertionError("a model was loaded for a bad --sampler")

    monkeypatch.setattr(engine.api, "load_engine", no_load)
    for bad, message in (("syntax_retry=0", "unknown sampler field 'syntax_retry'"),
                         ("end_run=1", "'end_run' takes a bool"),
                         ("max_steps=2.5", "'max_steps' takes a int"),
                         ("fallback=sideways", "expected 'confident' or 'leftmost'")):
        assert run_eval(_args("--limit", "1", "--model", "random:tiny", "--sampler", bad)) == 2
        assert message in capsys.readouterr().err, bad
