"""The syntax guard (engine/syntax.py): a finished canvas whose fills leave the document parsing worse
than with the holes empty is reopened at its first word, with that word forbidden. A scripted step
function stands in for the model, so what it would write is known."""
from __future__ import annotations

import pytest
import torch

from engine.api import Hole, InfillRequest, load_engine
from engine.syntax import SyntaxGuard

LINE = "    x = (1)"  # tokens: '   ', ' x', ' =', ' (', '1', ')'
BEFORE, AFTER = "def f():\n", "\n    return x\n"


@pytest.fixture(scope="module")
def engine():
    return load_engine("random:tiny")


def scripted(engine, first_word: str = " if", early_end: int | None = None, blank_second: bool = False):
    """Position k predicts the line's k-th token; after the line, only an end. `first_word` beats the
    line's first word (' x') at position 1; `early_end` makes an end beat the line from there on;
    `blank_second` makes an end the runner-up at position 1 (above ' x')."""
    backend = engine.backend
    ids = backend.encode(LINE)
    assert backend.decode(ids[:2]) == "    x"
    eom = min(backend.eom_ids)
    (word,) = backend.encode(first_word)

    def step(ctx, canvas, layout):
        logits = torch.full((*canvas.shape, backend.vocab_size), -30.0)
        for k in range(canvas.shape[1]):
            if k < len(ids):
                logits[:, k, ids[k]] = 8.0
            if k >= len(ids) or (early_end is not None and k >= early_end):
                logits[:, k, eom] = 12.0 if k >= len(ids) else 9.0
        logits[:, 1, word] = 9.0
        if blank_second:
            logits[:, 1, eom] = 8.5
        return logits

    return step


def fill(engine, monkeypatch, retries: int, after: str = AFTER, language: str = "python", **script) -> str:
    monkeypatch.setattr(engine.backend, "step", scripted(engine, **script))
    monkeypatch.setattr(engine.sampler, "syntax_retries", retries)
    segments = [BEFORE, Hole(max_tokens=16, single_line=True), after]
    return engine.infill(InfillRequest(segments, language=language)).fills[0]


def test_our_models_have_the_guard_on():
    from engine.backends.native import NativeBackend

    assert NativeBackend.sampler_defaults["syntax_retries"] > 0


def test_a_wrong_first_word_is_taken_back(engine, monkeypatch):
    """`    if = (1)` does not parse; the guard forbids ` if` as the first word and the model writes
    the line it would otherwise have written."""
    assert fill(engine, monkeypatch, retries=0) == "    if = (1)"
    assert fill(engine, monkeypatch, retries=1) == LINE


def test_the_reopened_fill_may_not_end_where_its_first_word_was(engine, monkeypatch):
    """With ` if` forbidden, the model's next choice is to end the fill: a blank line parses, but it
    fills nothing, so an end is forbidden there too."""
    assert fill(engine, monkeypatch, retries=1, blank_second=True) == LINE


def test_out_of_retries_the_earliest_fewest_errors_canvas_is_kept(engine, monkeypatch):
    """Both fills stop at `(` (one error each): the guard hands back the model's first fill."""
    guard = SyntaxGuard.build("python", [BEFORE, AFTER], [True])
    assert guard.errors(["    x = ("]) == guard.errors(["    if = ("]) > guard.baseline
    assert fill(engine, monkeypatch, retries=1, early_end=4) == "    if = ("


def test_a_document_broken_elsewhere_is_judged_against_its_empty_hole(engine, monkeypatch):
    """A later function has its own error: the fill is held to 'adds no errors', so the guard still
    takes back the wrong first word, and does not chase the error it cannot fix."""
    after = AFTER + "\ndef g(:\n    pass\n"
    assert SyntaxGuard.build("python", [BEFORE, after], [True]).baseline > 0
    assert fill(engine, monkeypatch, retries=4, after=after) == LINE


def test_no_grammar_no_guard(engine, monkeypatch):
    assert SyntaxGuard.build("plaintext", ["a", "b"], [True]) is None
    assert fill(engine, monkeypatch, retries=4, language="plaintext") == "    if = (1)"


def test_the_guard_reads_single_line_fills_up_to_their_newline():
    guard = SyntaxGuard.build("python", ["def f():\n", "\n    return 1\n"], [True])
    assert guard.document(["    y = 2\n    junk ("]) == "def f():\n    y = 2\n    return 1\n"
    assert guard.errors(["    y = 2\n    junk ("]) == 0


def test_the_guard_stops_reopening_when_the_pass_budget_is_spent(engine, monkeypatch):
    """A request that has used its passes keeps the model's fill: the guard costs at most
    `syntax_pass_budget` passes before its last reopening."""
    monkeypatch.setattr(engine.sampler, "syntax_pass_budget", 1)
    assert fill(engine, monkeypatch, retries=1) == "    if = (1)"
