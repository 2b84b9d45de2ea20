"""The harness on real HumanEval-Infilling problems, through the real loader and sandbox."""
from __future__ import annotations

import re

import pytest

from dg_lsp.evaluation import metrics
from dg_lsp.evaluation.data import DataNotFound, Problem, find_data_dir, load_problems, typed_problems
from dg_lsp.evaluation.harness import (Fill, canonical_filler, engine_filler, evaluate, segments_for,
                                       server_postprocess,
                                       summarise)
from dg_lsp.evaluation.sandbox import SandboxConfig

SANDBOX = SandboxConfig(timeout_s=5.0)


def _pick(subset: str, ids: list[str]) -> list[Problem]:
    by_id = {p.task_id: p for p in load_problems(find_data_dir(), subset)}
    return [by_id[i] for i in ids]


SINGLE = ["SingleLineInfilling/HumanEval/0/L3", "SingleLineInfilling/HumanEval/2/L0",
          "SingleLineInfilling/HumanEval/12/L3"]
MULTI = ["MultiLineInfilling/HumanEval/0/L0_L5", "MultiLineInfilling/HumanEval/1/L0_L2"]


def _indent_of(line: str) -> str:
    return re.match(r"[ \t]*", line).group(0)


def pass_filler(problem: Problem) -> Fill:
    """The classic negative control: the span replaced by `pass` at the span's own indentation."""
    return Fill(texts=[_indent_of(problem.canonical_solution) + "pass"], ms=1.0)


def test_both_subsets_load_in_full_with_whole_line_spans():
    data = find_data_dir()
    single, multi = load_problems(data, "single-line"), load_problems(data, "multi-line")
    assert (len(single), len(multi)) == (1033, 5815)
    for p in single[:50] + multi[:50]:
        assert p.prompt.endswith("\n") and p.canonical_solution.endswith("\n")
    assert all(p.canonical_solution.count("\n") == 1 for p in single)


def test_limit_keeps_a_prefix_in_file_order():
    data = find_data_dir()
    assert load_problems(data, "single-line", 5) == load_problems(data, "single-line")[:5]


def test_spread_takes_evenly_spaced_problems_across_the_subset():
    data = find_data_dir()
    everything = load_problems(data, "multi-line")
    picked = load_problems(data, "multi-line", 10, spread=True)
    assert len(picked) == 10 and picked[0] == everything[0]
    assert [everything.index(p) for p in picked] == [int(i * len(everything) / 10) for i in range(10)]
    assert len({p.task_id.split("/")[2] for p in picked}) == 10  # ten different HumanEval functions


def test_a_missing_data_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataNotFound, match="no such folder"):
        find_data_dir(tmp_path / "absent")
    with pytest.raises(DataNotFound, match="HumanEval-SingleLineInfilling.jsonl"):
        load_problems(tmp_path, "single-line")


@pytest.mark.parametrize("subset, ids", [("single-line", SINGLE), ("multi-line", MULTI)])
def test_canonical_solutions_pass_and_pass_fails(subset, ids):
    problems = _pick(subset, ids)
    good = evaluate(problems, canonical_filler, sandbox=SANDBOX)
    assert [r.passed for r in good] == [[True]] * len(problems), [r.runs[0].stderr for r in good]
    assert all(r.exact and r.parses for r in good)
    bad = evaluate(problems, pass_filler, sandbox=SANDBOX)
    assert [r.passed for r in bad] == [[False]] * len(problems)
    assert not any(r.exact for r in bad)
    assert summarise(good, 1)["pass@1"] == 1.0 and summarise(bad, 1)["pass@1"] == 0.0


def test_candidates_give_unbiased_pass_at_k_and_greedy_pass_at_1():
    problems = _pick("single-line", SINGLE[:2])

    def two(problem: Problem) -> Fill:  # candidate 0 wrong, candidate 1 right
        return Fill(texts=[pass_filler(problem).texts[0], canonical_filler(problem).texts[0]], ms=2.0)

    report = summarise(evaluate(problems, two, candidates=2, sandbox=SANDBOX), 2)
    assert report["pass@1"] == 0.5 and report["pass@2"] == 1.0 and report["greedy_pass@1"] == 0.0
    assert report["exact"] == 0.0  # exact match and parse validity judge the first candidate


def test_an_engine_error_counts_as_a_failure_not_a_crash():
    problems = _pick("single-line", SINGLE[:2])

    def refuse(problem: Problem) -> Fill:
        return Fill(texts=[], ms=0.5, error="context too long")

    report = summarise(evaluate(problems, refuse, sandbox=SANDBOX), 1)
    assert report["pass@1"] == 0.0 and report["errors"] == 2 and report["ms_median"] is None


def test_tests_can_wait_for_the_last_fill():
    problems = _pick("single-line", SINGLE)
    seen: list[tuple[int, int]] = []
    results = evaluate(problems, canonical_filler, sandbox=SANDBOX, defer_tests=True,
                       progress=lambda filled, tested, total: seen.append((filled, tested)))
    assert all(tested == 0 for filled, tested in seen if filled < len(problems))
    assert seen[-1] == (3, 3) and all(r.passed == [True] for r in results)


class RecordingEngine:
    """Stands in for Engine.infill to show the request the harness sends (the engine itself is tested
    in tests/engine); answers with the canonical line so the sandbox has something real to run."""

    def __init__(self, problems: list[Problem]) -> None:
        self.requests = []
        self.answers = {p.prompt + "\x00" + p.suffix: canonical_filler(p).texts[0] for p in problems}

    def infill(self, request, cancel):
        from engine.api import Candidate, InfillResult, InfillStats

        self.requests.append(request)
        prompt, _, tail = request.segments
        fill = self.answers[prompt + "\x00" + tail[1:]]
        return InfillResult(candidates=[Candidate(fills=[fill], score=0.0)], stats=InfillStats(nfe=4, tokens=12, fill_tokens=6))


def test_engine_requests_pose_the_span_as_an_empty_line_without_an_oracle_length():
    from engine.api import Hole

    problems = _pick("single-line", SINGLE)
    engine = RecordingEngine(problems)
    fill = engine_filler(engine, single_line=True, max_tokens=48)
    results = evaluate(problems, fill, sandbox=SANDBOX)
    for problem, request in zip(problems, engine.requests):
        assert request.segments == segments_for(problem, Hole(max_tokens=48, length_hint=None, single_line=True))
        assert request.segments[2] == "\n" + problem.suffix
        assert request.language == "python" and request.temperature == 0.0 and request.candidates == 1
    report = summarise(results, 1)
    assert report["pass@1"] == 1.0 and report["nfe_median"] == 4 and report["tokens_per_step_median"] == 3.0
    assert report["fill_tokens_per_step_median"] == 1.5


@pytest.mark.parametrize("n, c, k, expected", [(1, 1, 1, 1.0), (1, 0, 1, 0.0), (4, 1, 1, 0.25), (4, 1, 2, 0.5),
                                               (4, 3, 2, 1.0), (5, 2, 3, 0.9)])
def test_pass_at_k_matches_the_combinatorial_definition(n, c, k, expected):
    assert metrics.pass_at_k(n, c, k) == pytest.approx(expected)


def test_exact_match_ignores_trailing_whitespace_but_not_indentation():
    assert metrics.exact_match("    return x  \n\n", "    return x\n")
    assert not metrics.exact_match("return x\n", "    return x\n")


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert metrics.percentile(values, 95) == 95 and metrics.percentile([7.0], 95) == 7.0
    assert metrics.percentile([], 95) is None


def test_server_postprocessing_trims_a_repeated_suffix_line_and_keeps_canonical_fills():
    # Spans whose next line opens a block: repeating it leaves a header without a body.
    problems = _pick("multi-line", ["MultiLineInfilling/HumanEval/0/L0_L1", "MultiLineInfilling/HumanEval/1/L0_L4"])

    def repeats_next_line(problem: Problem) -> Fill:  # right middle, then the suffix's first line again
        return Fill(texts=[problem.canonical_solution + problem.suffix.split("\n")[0]], ms=1.0)

    raw = evaluate(problems, repeats_next_line, sandbox=SANDBOX)
    fixed = evaluate(problems, server_postprocess(repeats_next_line, single_line=False, max_tokens=128),
                     sandbox=SANDBOX)
    canonical = evaluate(problems, server_postprocess(canonical_filler, single_line=False, max_tokens=128),
                         sandbox=SANDBOX)
    assert [r.passed for r in raw] == [[False]] * len(problems)
    assert [r.passed for r in fixed] == [[True]] * len(problems)
    assert all(r.passed == [True] and r.exact for r in canonical)


@pytest.mark.parametrize("upto", ["indent", "word"])
def test_typed_problems_move_the_typed_start_into_the_prompt_and_still_pass(upto):
    problems = load_problems(find_data_dir(), "single-line", 60)
    typed = typed_problems(problems, upto)
    by_id = {p.task_id: p for p in problems}
    assert 0 < len(typed) <= len(problems)
    if upto == "word":
        assert len(typed) < len(problems)  # one-word lines (`    pass`) drop out
    for t in typed:
        p = by_id[t.task_id]
        moved = t.prompt[len(p.prompt):]
        assert t.prompt.startswith(p.prompt) and moved + t.canonical_solution == p.canonical_solution
        assert moved and not moved.strip() if upto == "indent" else moved.strip() and moved.endswith(" ")
        assert t.canonical_solution.strip() and "\n" not in moved
    # the program an answer is judged by is unchanged: the canonical rest still passes
    results = evaluate(typed[:4], canonical_filler, sandbox=SandboxConfig(timeout_s=10))
    assert all(r.passed == [True] for r in results)


def test_summary_counts_fills_with_content_and_passes_that_write_a_line():
    """A pass by an empty line or a bare keyword is one the tests do not notice: the summary counts
    them apart from passes that write two words or more."""
    from dg_lsp.evaluation.harness import ProblemResult
    from dg_lsp.evaluation.sandbox import RunResult

    def result(completion: str, ok: bool) -> ProblemResult:
        run = RunResult("passed" if ok else "failed", 0 if ok else 1, "", "", 0.1)
        return ProblemResult("t", [completion], False, True, 1.0, 1, 1.0, runs=[run])

    results = [result("\n", True), result("    return\n", True), result("    return x + 1\n", True),
               result("    if x:\n", False), result("", False)]
    report = summarise(results, 1)
    assert (report["content"], report["content_passes"], report["line_passes"]) == (3, 2, 1)
    assert report["pass@1"] == 0.6
