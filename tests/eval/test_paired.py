"""benchmarks/paired.py: two `dg-lsp eval --samples` runs compared problem by problem."""
from __future__ import annotations

import json

import pytest

from benchmarks.paired import compare, load, main, sign_test


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_sign_test_is_the_exact_two_sided_binomial():
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 0) == sign_test(0, 5) == 2 / 32
    assert sign_test(3, 3) == 1.0
    assert sign_test(21, 28) == pytest.approx(0.3916, abs=1e-4)  # session 18's +21 −28
    assert sign_test(1, 9) == pytest.approx(22 / 1024)


def test_compare_counts_what_changed_on_the_common_problems(tmp_path, capsys):
    base = _write(tmp_path / "a.jsonl", [
        {"task_id": "t1", "completion": "x", "candidate": 0, "passed": True},
        {"task_id": "t2", "completion": "y", "candidate": 0, "passed": False},
        {"task_id": "t3", "completion": "z", "candidate": 0, "passed": True},
        {"task_id": "t4", "completion": "w", "candidate": 0, "passed": False},  # only in the base
    ])
    other = _write(tmp_path / "b.jsonl", [
        {"task_id": "t1", "completion": "x", "candidate": 0, "passed": True},
        {"task_id": "t1", "completion": "q", "candidate": 1, "passed": False},  # not the first candidate
        {"task_id": "t2", "completion": "y2", "candidate": 0, "passed": True},
        {"task_id": "t3", "completion": "z2", "candidate": 0, "passed": False},
    ])
    c = compare(load(base), load(other))
    assert (c["n"], c["plus"], c["minus"], c["changed"]) == (3, 1, 1, 2)
    assert c["base"] == pytest.approx(2 / 3) and c["other"] == pytest.approx(2 / 3) and c["p"] == 1.0
    assert main([str(base), str(other)]) == 0
    out = capsys.readouterr().out
    assert "| 3 | 0.6667 | 0.6667 | 1 | 1 | 2 | 1.00 |" in out


def test_a_file_that_is_not_samples_is_refused_with_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "t1", "passed": true}\nnot json\n')
    with pytest.raises(SystemExit, match=r"bad.jsonl:2: not a `dg-lsp eval --samples` line"):
        load(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(SystemExit, match="no samples"):
        load(empty)
