"""The compiled denoising step (`--model-option compile=true`): same logits and fills as eager, one
compile for every context length, and a clear error for a bad value. CPU inductor, ~20-40 s."""
from __future__ import annotations

import pytest
import torch

from engine.api import Hole, InfillError, InfillRequest, load_engine
from engine.backends.base import compile_mode


def test_compile_option_values():
    assert compile_mode(None) is None and compile_mode(False) is None and compile_mode("false") is None
    assert compile_mode(True) == "default" and compile_mode("reduce-overhead") == "reduce-overhead"
    with pytest.raises(InfillError, match="compile must be"):
        compile_mode("fast")
    with pytest.raises(InfillError, match="compile must be"):
        load_engine("random:tiny", compile=3)


def test_compiled_step_matches_eager_for_any_context_length():
    torch._dynamo.reset()
    eager = load_engine("random:tiny")
    compiled = load_engine("random:tiny", compile=True)  # compiles (batch 1 and 3) while loading
    assert compiled.info["compile"] == "default" and "compile" not in eager.info
    from torch._dynamo.utils import counters

    frames = counters["stats"]["unique_graphs"]
    for n in (3, 11, 40):  # three context lengths, two canvas widths, one and three candidates
        for hole, cands in ((Hole(max_tokens=8), 1), (Hole(max_tokens=16), 3)):
            req = InfillRequest(["import os\n" * n + "def f(x):\n", hole, "\n    return x\n"], candidates=cands, seed=3)
            a, b = eager.infill(req), compiled.infill(req)
            assert [c.fills for c in a.candidates] == [c.fills for c in b.candidates]
            assert a.candidates[0].score == pytest.approx(b.candidates[0].score, abs=1e-4)
    assert counters["stats"]["unique_graphs"] == frames  # no recompilation after loading
