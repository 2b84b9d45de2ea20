"""Fill each problem's span, run its tests in the sandbox, and score the lot.

How a span is posed. Every HumanEval-Infilling span is whole lines: the prompt ends with a newline and
the canonical middle starts with the line's indentation and ends with its newline. We pose it the way an
editor does when the cursor sits at column 0 of an empty line the user wants filled: segments
`[prompt, Hole, "\\n" + suffix]`. The fill therefore has to write the indentation itself (no oracle
indent, and no oracle length: the hole has only its token budget), a single-line hole is cut at its
first newline by the engine, and the completion inserted between prompt and suffix is `fill + "\\n"` —
the document as the editor would hold it after accepting the fill.

The engine fills serially on this thread (one thread owns an engine); finished fills go to a small
thread pool whose workers each wait on one sandboxed subprocess.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait, FIRST_COMPLETED
from dataclasses import dataclass, field
from typing import Any

from dg_lsp.evaluation import metrics
from dg_lsp.evaluation.data import Problem, check_program
from dg_lsp.evaluation.sandbox import RunResult, SandboxConfig, run_program

HOLE_TAIL = "\n"  # the hole sits on its own (empty) line: what follows it is this newline, then the suffix


@dataclass
class Fill:
    """What a fill function returns for one problem: one text per candidate (the hole's content)."""

    texts: list[str]
    ms: float  # wall clock of the fill call
    nfe: int | None = None  # forward passes
    tokens_per_step: float | None = None  # committed per pass, end-of-middle padding included
    fill_tokens_per_step: float | None = None  # the fill's own tokens per pass
    error: str | None = None  # the engine refused the request (InfillError): scored as failed


FillFn = Callable[[Problem], Fill]


@dataclass
class ProblemResult:
    task_id: str
    completions: list[str]  # what goes between prompt and suffix, one per candidate
    exact: bool  # first candidate
    parses: bool  # first candidate: prompt + completion + suffix is valid Python
    ms: float
    nfe: int | None
    tokens_per_step: float | None
    fill_tokens_per_step: float | None = None
    error: str | None = None
    runs: list[RunResult] = field(default_factory=list)

    @property
    def passed(self) -> list[bool]:
        return [r.passed for r in self.runs]


def completion_of(fill: str) -> str:
    return fill + HOLE_TAIL


def segments_for(problem: Problem, hole: Any) -> list[Any]:
    return [problem.prompt, hole, HOLE_TAIL + problem.suffix]


def engine_filler(engine: Any, *, single_line: bool, max_tokens: int, candidates: int = 1, seed: int | None = 0,
                  rule: str | None = None, threshold: float | None = None) -> FillFn:
    """A fill function that sends each problem through `Engine.infill`, the server's path. Greedy
    (temperature 0); with candidates > 1 the engine samples the alternatives. No cache_key: every fill
    starts cold, so latencies do not depend on problem order."""
    from engine.api import CancelToken, Hole, InfillError, InfillRequest

    def fill(problem: Problem) -> Fill:
        request = InfillRequest(
            segments=segments_for(problem, Hole(max_tokens=max_tokens, length_hint=None, single_line=single_line)),
            language="python", candidates=candidates, seed=seed, temperature=0.0, rule=rule, threshold=threshold)
        start = time.perf_counter()
        try:
            result = engine.infill(request, cancel=CancelToken())
        except (InfillError, RuntimeError, MemoryError) as exc:  # a refused request, a device OOM…
            # One bad problem must not end an hours-long run: it scores as failed and is counted.
            return Fill(texts=[], ms=(time.perf_counter() - start) * 1000, error=f"{type(exc).__name__}: {exc}")
        ms = (time.perf_counter() - start) * 1000
        texts = [c.fills[0] for c in result.candidates]
        if single_line:  # the line's own newline is the hole's tail; the server's edits cut here too
            texts = [t.split("\n", 1)[0] for t in texts]
        return Fill(texts=texts, ms=ms, nfe=result.stats.nfe, tokens_per_step=result.stats.tokens_per_step,
                    fill_tokens_per_step=result.stats.fill_tokens_per_step)

    return fill


def server_postprocess(fill_fn: FillFn, *, single_line: bool, max_tokens: int) -> FillFn:
    """Wrap a fill function with the server's post-processing (dg_lsp.edits: overlap trim, indentation,
    bracket repair, the variant with the fewest parse errors), applied to each candidate on its own so
    none is dropped. Its time is added to the fill's: the server pays it too."""
    from dg_lsp import edits, languages
    from dg_lsp.context import HoleSpan
    from dg_lsp.documents import DocumentStore

    uri = "file:///humaneval_infilling.py"

    def fill(problem: Problem) -> Fill:
        raw = fill_fn(problem)
        if raw.error is not None or not raw.texts:
            return raw
        start = time.perf_counter()
        store = DocumentStore(parser_for=languages.parser_for)
        store.open(uri, "python", 1, problem.prompt + HOLE_TAIL + problem.suffix)
        snap = store.snapshot(uri)
        at = len(problem.prompt)
        hole = HoleSpan(start=at, end=at, max_tokens=max_tokens, single_line=single_line)
        texts = []
        for text in raw.texts:
            ranked = edits.rank(snap, [hole], [([text], 0.0)])
            texts.append(ranked[0].fills[0] if ranked else text)  # rank drops blank fills: keep them as blank
        ms = raw.ms + (time.perf_counter() - start) * 1000
        return Fill(texts=texts, ms=ms, nfe=raw.nfe, tokens_per_step=raw.tokens_per_step,
                    fill_tokens_per_step=raw.fill_tokens_per_step)

    return fill


def canonical_filler(problem: Problem) -> Fill:
    """The reference middle, posed like a model fill (its final newline is the hole's tail): checks the
    data and the sandbox, and must score pass@1 = exact = 1.0."""
    middle = problem.canonical_solution
    return Fill(texts=[middle[:-1] if middle.endswith(HOLE_TAIL) else middle], ms=0.0)


def evaluate(problems: Sequence[Problem], fill: FillFn, *, candidates: int = 1,
             sandbox: SandboxConfig = SandboxConfig(), workers: int = 2, defer_tests: bool = False,
             progress: Callable[[int, int, int], None] | None = None) -> list[ProblemResult]:
    """Fill every problem (serially) and test every candidate (on `workers` threads, while later fills
    run, or after the last fill with `defer_tests` so that fill timings see an idle machine).
    `progress(filled, tested, total_tests)` is called on this thread."""
    results: list[ProblemResult] = []
    futures: list[list[Future[RunResult]]] = []
    total_tests = len(problems) * candidates
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="dg-eval-test") as pool:
        def submit(problem: Problem, completions: list[str]) -> list[Future[RunResult]]:
            return [pool.submit(run_program, check_program(problem, c), sandbox) for c in completions]

        queued: list[tuple[Problem, list[str]]] = []
        missing = 0
        for i, problem in enumerate(problems):
            f = fill(problem)
            completions = [completion_of(t) for t in f.texts[:candidates]]
            first = completions[0] if completions else None
            results.append(ProblemResult(
                task_id=problem.task_id, completions=completions,
                exact=first is not None and metrics.exact_match(first, problem.canonical_solution),
                parses=first is not None and metrics.parses(problem.prompt + first + problem.suffix),
                ms=f.ms, nfe=f.nfe, tokens_per_step=f.tokens_per_step,
                fill_tokens_per_step=f.fill_tokens_per_step, error=f.error))
            if defer_tests:
                queued.append((problem, completions))
                futures.append([])
            else:
                futures.append(submit(problem, completions))
            missing += candidates - len(completions)  # an engine error: failed, never run
            if progress:
                progress(i + 1, missing + sum(fut.done() for fs in futures for fut in fs), total_tests)
        for i, (problem, completions) in enumerate(queued):
            futures[i] = submit(problem, completions)
        pending = {fut for fs in futures for fut in fs}
        while pending:  # the timeout only refreshes the progress line
            _, pending = wait(pending, timeout=5.0, return_when=FIRST_COMPLETED)
            if progress and pending:
                progress(len(problems), total_tests - len(pending), total_tests)
    if progress:
        progress(len(problems), total_tests, total_tests)
    for result, fs in zip(results, futures):
        result.runs = [fut.result() for fut in fs]
    return results


def summarise(results: Sequence[ProblemResult], candidates: int) -> dict[str, Any]:
    """The report's numbers. A problem with fewer completions than candidates counts the missing ones as
    failures, so an engine error can only lower the score."""
    n = len(results)
    out: dict[str, Any] = {"n": n, "candidates": candidates}
    for k in metrics.ks_for(candidates):
        scores = [metrics.pass_at_k(candidates, sum(r.passed), k) for r in results]
        out[f"pass@{k}"] = sum(scores) / n if n else None
    if candidates > 1:
        out["greedy_pass@1"] = sum(bool(r.passed and r.passed[0]) for r in results) / n if n else None
    out["exact"] = sum(r.exact for r in results) / n if n else None
    out["parse"] = sum(r.parses for r in results) / n if n else None
    # what the first fills hold: a pass by an empty line or a bare `return` is one the tests miss
    first = [(r.completions[0] if r.completions else "", bool(r.passed and r.passed[0])) for r in results]
    out["content"] = sum(bool(c.strip()) for c, _ in first)  # first fills that are not empty/whitespace
    out["content_passes"] = sum(bool(c.strip()) and ok for c, ok in first)
    out["line_passes"] = sum(len(c.split()) >= 2 and ok for c, ok in first)  # two words or more
    ms = [r.ms for r in results if r.error is None]
    out["ms_median"] = metrics.median(ms)
    out["ms_p95"] = metrics.percentile(ms, 95)
    out["nfe_median"] = metrics.median([r.nfe for r in results if r.nfe is not None])
    out["tokens_per_step_median"] = metrics.median(
        [r.tokens_per_step for r in results if r.tokens_per_step is not None])
    out["fill_tokens_per_step_median"] = metrics.median(
        [r.fill_tokens_per_step for r in results if r.fill_tokens_per_step is not None])
    out["errors"] = sum(r.error is not None for r in results)
    out["timeouts"] = sum(run.status == "timeout" for r in results for run in r.runs)
    return out
