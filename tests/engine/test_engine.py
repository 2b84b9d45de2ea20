"""Engine behaviour on CPU with the tiny random model (real code paths, seconds)."""
from __future__ import annotations

import pytest
import torch

from engine.api import CancelToken, Cancelled, Hole, InfillError, InfillRequest, load_engine


@pytest.fixture(scope="module")
def engine():
    torch.manual_seed(0)
    return load_engine("random:tiny")


def req(*segments, **kw) -> InfillRequest:
    return InfillRequest(list(segments), **kw)


@pytest.mark.parametrize("rule,extra", [("threshold", {}), ("topk", {"tokens_per_step": 2}), ("entropy", {})])
def test_rules_terminate_and_commit_every_mask(engine, rule, extra, monkeypatch):
    # the hole starts a line: no line lead, the canvas is the hole's 16-token bucket
    r = engine.infill(req("def f(x):\n", Hole(max_tokens=16), "\n    return x\n", rule=rule, **extra))
    # every canvas position committed: the step count is bounded by the canvas (once per canvas the
    # syntax guard reopens, and once per round of its last resort for a multi-line hole: the random
    # model's fills rarely parse) and tokens counted
    assert 1 <= r.stats.nfe <= 16 * (1 + engine.sampler.syntax_retries + engine.sampler.syntax_lines)
    assert r.stats.tokens == 16
    # the fill's own tokens: what precedes the hole's end-of-middle, at most the whole canvas
    assert 0 <= r.stats.fill_tokens <= 16 and r.stats.fill_tokens_per_step <= r.stats.tokens_per_step
    assert (r.stats.fill_tokens == 0) == (r.fills[0] == "")
    if rule == "topk":  # two per step (or more through end-of-middle / stable stop), guard off
        monkeypatch.setattr(engine.sampler, "syntax_retries", 0)
        r = engine.infill(req("def f(x):\n", Hole(max_tokens=16), "\n    return x\n", rule=rule, **extra))
        assert r.stats.nfe <= 8
    assert isinstance(r.fills[0], str)


def test_threshold_one_commits_at_least_one_per_step(engine, monkeypatch):
    monkeypatch.setattr(engine.sampler, "syntax_retries", 0)  # a reopened canvas would take more passes
    r = engine.infill(req("x = 1\n", Hole(max_tokens=8), "\ny = 2\n", threshold=1.01))
    assert r.stats.nfe <= 8 and r.stats.tokens == 8


def test_cached_equals_uncached_after_an_edit(engine):
    """Exact cache: a request that reuses keys/values from an earlier one (one character typed at
    the cursor) gives the same greedy fill as a cold request."""
    prefix = "import os\n\ndef walk(root):\n    for name in os.listdir(root):\n        pa"
    suffix = "\n    return None\n"
    engine.infill(req(prefix, Hole(max_tokens=16), suffix, cache_key="doc"))
    warm = engine.infill(req(prefix + "t", Hole(max_tokens=16), suffix, cache_key="doc"))
    cold = engine.infill(req(prefix + "t", Hole(max_tokens=16), suffix))
    assert warm.stats.cached_tokens > 0 and cold.stats.cached_tokens == 0
    assert warm.fills == cold.fills
    assert warm.candidates[0].score == pytest.approx(cold.candidates[0].score, abs=1e-4)


def test_multi_hole_fills_in_one_canvas(engine, monkeypatch):
    r = engine.infill(req("a = ", Hole(8), "\nb = ", Hole(8), "\nc = ", Hole(8), "\n"))
    assert len(r.fills) == 3
    # jointly: never more steps than the model's own commits (each hole's `x = ` lead is pinned);
    # the syntax guard's restarts, which write reopened positions again, are off for this bound
    monkeypatch.setattr(engine.sampler, "syntax_retries", 0)
    r = engine.infill(req("a = ", Hole(8), "\nb = ", Hole(8), "\nc = ", Hole(8), "\n"))
    assert len(r.fills) == 3 and r.stats.nfe <= r.stats.tokens <= 3 * 16


def test_adjacent_holes_and_leading_hole(engine):
    r = engine.infill(req(Hole(8), Hole(8), "print(x)\n"))
    assert len(r.fills) == 2


def test_token_healing_mid_token(engine):
    """The prefix ends inside a word: its last token is taken back into the hole and the fill's
    first token must start with it; the fill returned excludes the healed text."""
    texts, holes = engine._normalise(["value = compute(x)\nret", Hole(8), "\n"])
    layout, leads = engine._layout(texts, holes)
    assert [lead.heal for lead in leads] == ["ret"] and leads[0].pinned == ()
    assert engine.backend.decode(layout.streams[0]) == "value = compute(x)\n"
    r = engine.infill(req("value = compute(x)\nret", Hole(8), "\n"))
    healed = "ret" + r.fills[0]
    first = [t for t in engine.backend.token_texts() if t and healed.startswith(t) and t.startswith("ret")]
    assert first, f"fill {r.fills[0]!r} does not continue a token starting with 'ret'"


def test_line_lead_moves_the_typed_line_into_the_canvas(engine):
    """A hole after `    return `: the context ends at the line's start; the typed text is pinned
    in the canvas (all but its last token) and the next token must start with that last token's
    text; the fill returned excludes it."""
    texts, holes = engine._normalise(["def f(x):\n    return ", Hole(16), "\n"])
    layout, (lead,) = engine._layout(texts, holes)
    decode = engine.backend.decode
    assert decode(layout.streams[0]) == "def f(x):\n"
    assert lead.text == "    return " and decode(list(lead.pinned)) + lead.heal == lead.text and lead.heal
    assert layout.hole_sizes == [32]  # the 16-token budget plus the pinned tokens
    (pos, allowed), = engine._constraints(layout, [lead]).items()
    assert pos == len(lead.pinned)
    texts_ = engine.backend.token_texts()
    assert all(texts_[i].startswith(lead.heal) for i in allowed.nonzero().flatten().tolist())
    # the decoded canvas is lead + fill: a canvas spelling `    return x + 1` then end-of-middle
    row = engine.backend.encode("    return x + 1") + [min(engine.backend.eom_ids)] * 32
    from engine.sampler import CanvasState
    state = CanvasState(torch.tensor([row[:32]]), torch.ones(1, 32, dtype=torch.bool), torch.zeros(1, 32))
    assert engine._decode(state, layout, holes, [lead], 0).fills == ["x + 1"]
    # a canvas that does not spell the lead gives no fill rather than the lead twice
    state.tokens[0, :4] = torch.tensor(engine.backend.encode("pass")[:1] * 4)
    assert engine._decode(state, layout, holes, [lead], 0).fills == [""]


def test_a_trailing_space_is_healed_alone(engine):
    """BPE writes `    return x` as `   ` + ` return` + ` x`: after typed indentation (or `x = `) the
    fill's first token must start with the one space, not with the whole last token `    `."""
    for line in ("    ", "        ", "    x = "):
        texts, holes = engine._normalise(["def f(x):\n" + line, Hole(16), "\n"])
        _, (lead,) = engine._layout(texts, holes)
        assert lead.heal == " " and engine.backend.decode(list(lead.pinned)) == line[:-1]


def test_line_lead_off_keeps_the_line_in_the_context(engine):
    texts, holes = engine._normalise(["def f(x):\n    return ", Hole(16), "\n"])
    layout, (lead,) = engine._layout(texts, holes, line_lead=False)
    assert lead.text == "" and engine.backend.decode(layout.streams[0]) == "def f(x):\n    return "


def test_long_typed_line_stays_in_the_context(engine):
    from engine.runtime import LEAD_MAX_TOKENS

    line = "    x = " + " + ".join(f"v{i}" for i in range(LEAD_MAX_TOKENS)) + " "
    texts, holes = engine._normalise(["def f():\n" + line, Hole(16), "\n"])
    layout, (lead,) = engine._layout(texts, holes)
    assert lead.pinned == () and engine.backend.decode(layout.streams[0]).endswith(line)


def test_typing_on_the_cursor_line_reuses_the_whole_context(engine):
    """With the line lead the context ends before the cursor's line, so a character typed there
    re-encodes nothing, and the warm fill equals the cold one."""
    prefix = "import os\n\ndef walk(root):\n    for name in os.listdir(root):\n        pa"
    suffix = "\n    return None\n"
    engine.infill(req(prefix, Hole(max_tokens=16), suffix, cache_key="lead-doc"))
    warm = engine.infill(req(prefix + "t", Hole(max_tokens=16), suffix, cache_key="lead-doc"))
    cold = engine.infill(req(prefix + "t", Hole(max_tokens=16), suffix))
    assert warm.stats.cached_tokens == warm.stats.context_tokens > 0
    assert warm.fills == cold.fills


def test_no_healing_after_whitespace(engine):
    texts, holes = engine._normalise(["x = 1\n", Hole(8), "\n"])
    _, leads = engine._layout(texts, holes)
    assert [lead.heal for lead in leads] == [""] and leads[0].text == ""


def test_candidates_differ_with_temperature_and_are_reproducible(engine):
    r1 = engine.infill(req("def f():\n    ", Hole(16), "\n", candidates=3, temperature=1.0, seed=7))
    r2 = engine.infill(req("def f():\n    ", Hole(16), "\n", candidates=3, temperature=1.0, seed=7))
    fills = [c.fills[0] for c in r1.candidates]
    assert len(set(fills)) > 1
    assert fills == [c.fills[0] for c in r2.candidates]


def test_greedy_first_candidate_with_sampled_alternatives(engine):
    greedy = engine.infill(req("y = ", Hole(8), "\n"))
    many = engine.infill(req("y = ", Hole(8), "\n", candidates=3, seed=1))
    assert many.candidates[0].fills == greedy.fills
    assert len(many.candidates) == 3


def test_hole_grows_when_filled_completely(engine):
    """With end-of-middle made impossible the model fills every position, so the hole grows bucket
    by bucket up to its budget."""
    backend = engine.backend
    original = backend.step
    eom = sorted(backend.eom_ids)

    def no_eom(ctx, canvas, layout, positions=None):
        logits = original(ctx, canvas, layout, positions)
        logits[..., eom] = float("-inf")
        return logits

    backend.step = no_eom
    try:
        r = engine.infill(req("x = 1\n", Hole(max_tokens=64), "\n"))
    finally:
        backend.step = original
    assert r.stats.tokens == 64  # 32 -> 64
    assert len(backend.encode(r.fills[0])) >= 48


def test_single_line_hole_stops_at_newline(engine):
    r = engine.infill(req("for i in range(3):\n", Hole(max_tokens=32, single_line=True), "print(i)\n"))
    assert r.fills[0].count("\n") <= 1 and (not r.fills[0] or "\n" not in r.fills[0][:-1])


def test_cancel_stops_within_one_step(engine):
    backend = engine.backend
    original = backend.step
    token, calls = CancelToken(), []

    def counting(ctx, canvas, layout, positions=None):
        calls.append(1)
        if len(calls) == 2:
            token.cancel()
        return original(ctx, canvas, layout, positions)

    backend.step = counting
    try:
        with pytest.raises(Cancelled):
            engine.infill(req("x = ", Hole(64), "\n", threshold=1.01), cancel=token)
    finally:
        backend.step = original
    assert len(calls) == 2  # the step during which it fired finished; no further step ran


@pytest.mark.parametrize("segments,message", [
    (["only text"], "no holes"),
    (["x = ", Hole(max_tokens=0), "\n"], "budget"),
    ([Hole(8)], "no text"),
])
def test_bad_requests_get_clear_errors(engine, segments, message):
    with pytest.raises(InfillError, match=message):
        engine.infill(InfillRequest(segments))


def test_unknown_language_is_an_error(engine):
    with pytest.raises(InfillError, match="unknown language"):
        engine.infill(req("x = ", Hole(8), "\n", language="klingon++"))


def test_bad_candidates_and_spec():
    with pytest.raises(InfillError, match="candidates"):
        from engine.api import validate

        validate(req("x", Hole(8), candidates=0))
    with pytest.raises(InfillError, match="unknown model spec"):
        load_engine("not a spec at all!")


def test_long_context_is_budgeted(engine):
    prefix = "x = 1\n" * 2000
    r = engine.infill(req(prefix, Hole(8), "y = 2\n" * 500))
    assert r.stats.context_tokens <= engine.info["max_context"]


def test_dtype_option_and_auto_choice(monkeypatch):
    from engine.backends import base

    bf = load_engine("random:tiny", dtype="bfloat16")
    assert bf.info["dtype"] == "bfloat16"
    r = bf.infill(req("def f(x):\n    return ", Hole(max_tokens=8), "\n"))
    assert r.stats.nfe >= 1 and isinstance(r.fills[0], str)
    assert load_engine("random:tiny").info["dtype"] == "float32"  # the test model stays exact unless asked
    with pytest.raises(InfillError, match="unknown dtype"):
        load_engine("random:tiny", dtype="int3")
    with pytest.raises(InfillError, match="takes the dtype and compile options"):
        load_engine("random:tiny", dual_cache=True)
    cpu = torch.device("cpu")
    monkeypatch.setattr(base, "cpu_has_native_bf16", lambda: False)
    assert base.pick_dtype(cpu, None, cpu_bf16=True) == torch.float32
    monkeypatch.setattr(base, "cpu_has_native_bf16", lambda: True)
    assert base.pick_dtype(cpu, "auto", cpu_bf16=True) == torch.bfloat16
    assert base.pick_dtype(cpu, "auto") == torch.float32  # transformers backends keep fp32 on CPU
    monkeypatch.setenv("DG_LSP_DTYPE", "float32")
    assert base.pick_dtype(cpu, None, cpu_bf16=True) == torch.float32  # the environment overrides auto
    assert base.pick_dtype(cpu, "bfloat16") == torch.bfloat16  # an explicit option overrides both


def test_embedded_model_exact_cache_in_bfloat16():
    """The shipped weights in bf16 (auto's pick on CPUs with native bf16): a warm request after a
    one-character edit reuses the cache and gives the cold request's fill."""
    eng = load_engine("embedded", dtype="bfloat16")
    prefix = "import os\n\n\ndef walk(root):\n    for name in os.listdir(root):\n        path = os.path.join(root, na"
    suffix = ")\n        print(path)\n"
    eng.infill(req(prefix, Hole(max_tokens=16, single_line=True), suffix, cache_key="doc"))
    warm = eng.infill(req(prefix + "m", Hole(max_tokens=16, single_line=True), suffix, cache_key="doc"))
    cold = eng.infill(req(prefix + "m", Hole(max_tokens=16, single_line=True), suffix))
    assert warm.stats.cached_tokens > 0 and cold.stats.cached_tokens == 0
    assert warm.fills == cold.fills


def test_our_models_write_left_to_right_where_unsure(engine):
    """The embedded architecture's default fallback is "leftmost" (measured better for our models,
    BENCHMARKS.md "Session 6"); the Backend default that other backends inherit stays "confident"."""
    from engine.backends.base import Backend

    assert engine.sampler.fallback == "leftmost"
    assert Backend.sampler_defaults.get("fallback", "confident") == "confident"


def test_context_keys_and_values_skip_the_last_blocks_attention_and_mlp(engine):
    """`encode_stream(hidden=False)` (the native backend's) computes the last block's keys and values
    alone: they equal the full pass's, with and without a cached prefix."""
    model = engine.backend.model
    ids = engine.backend.encode("def f(x):\n    return x + 1\n\nprint(f(2))\n")
    full, _ = model.encode_stream(ids)
    lean, _ = model.encode_stream(ids, hidden=False)
    past, _ = model.encode_stream(ids[:5], hidden=False)
    resumed, fresh = model.encode_stream(ids, past, hidden=False)
    assert fresh.shape[1] == len(ids) - 5
    same, none = model.encode_stream(ids, lean, hidden=False)  # all cached: nothing is encoded
    assert none.shape[1] == 0 and same is lean
    shorter, none = model.encode_stream(ids[:7], lean, hidden=False)
    assert none.shape[1] == 0 and shorter.ids == ids[:7] and shorter.k[0].shape[2] == 7
    for cache in (lean, resumed):
        for a, b in zip(full.k + full.v, cache.k + cache.v):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_padded_stream_encoding_is_exact(engine):
    """`pad=True` encodes at a padded width and drops the pads: keys, values and states equal the
    unpadded encoding's (a stream is causal), fresh and after a cached prefix."""
    from engine.model import padded_length

    assert [padded_length(n) for n in (1, 3, 64, 65, 1000)] == [1, 4, 64, 128, 1024]
    model = engine.backend.model
    ids = engine.backend.encode("def f(x):\n    return x + 1\n\nprint(f(2))\n" * 3)
    assert padded_length(len(ids)) > len(ids)
    plain, h_plain = model.encode_stream(ids)
    padded, h_padded = model.encode_stream(ids, pad=True)
    past, _ = model.encode_stream(ids[:7], pad=True)
    resumed, h_resumed = model.encode_stream(ids, past, pad=True)
    torch.testing.assert_close(h_plain, h_padded, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h_plain[:, 7:], h_resumed, rtol=1e-5, atol=1e-5)
    for cache in (padded, resumed):
        assert cache.k[0].shape[2] == len(ids)
        for a, b in zip(plain.k + plain.v, cache.k + cache.v):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_inference_scores_equal_the_training_forward(engine):
    """Training runs whole rows (streams and canvases at document positions, a block mask); inference
    runs cached streams whose keys are turned into document positions per request, and the canvas
    alone. Same model, same numbers: a prefix, a two-hole canvas and a suffix through both paths."""
    from engine.canvas import Layout
    from engine.train.data import collate

    backend, model = engine.backend, engine.backend.model
    pre = backend.encode("def add(a, b):\n    total = a + b\n")
    mid = backend.encode("\n    print(total)\n")
    suf = backend.encode("\n\nprint(add(1, 2))\n")
    holes = [[backend.mask_id, 17, backend.mask_id, 40], [backend.mask_id] * 3]
    layout = Layout([pre, mid, suf], [len(h) for h in holes])
    canvas = torch.tensor([holes[0] + holes[1]])
    with torch.inference_mode():
        cached = backend.step(backend.prepare(layout, None), canvas, layout)[0]
    # the training row: streams first, then the canvas, each token at its document position
    ids, pos, kind, sid = [], [], [], []
    for s, (stream, off) in enumerate(zip(layout.streams, layout.stream_offsets)):
        ids += stream
        pos += list(range(off, off + len(stream)))
        kind += [0] * len(stream)
        sid += [s] * len(stream)
    ids += canvas[0].tolist()
    pos += layout.canvas_positions().tolist()
    kind += [1] * canvas.shape[1]
    sid += [-1] * canvas.shape[1]
    n = len(ids)
    batch = collate([(ids, [-100] * n, [0.0] * n, pos, kind, sid)], n, model.cfg.pad_id)
    with torch.no_grad():
        hidden = model(batch.ids, batch.pos, batch.kind, batch.mask)
        full = model.logits(hidden[0, n - canvas.shape[1]:])
    torch.testing.assert_close(cached, full, rtol=1e-4, atol=1e-4)


def test_the_latency_benchmark_fills_have_the_context_it_names(engine):
    """benchmarks.engine_bench's fills (issue 3's latency figure): about 768 tokens before the hole,
    which starts a line after its indentation, and about 256 after, cut at line ends."""
    from benchmarks.engine_bench import code_text, cut

    text = code_text()
    for r in range(3):
        prefix, line, suffix = cut(engine, text, r)
        start = prefix.rfind("\n") + 1
        assert prefix[start:].strip() == "" and line.endswith("\n") and suffix.endswith("\n")
        assert 700 <= engine.count_tokens(prefix) <= 800 and 200 <= engine.count_tokens(suffix) <= 270
        assert (prefix + line + suffix) in text


def test_packed_weights_give_the_same_numbers_and_stay_out_of_training():
    """`DiffusionCoder.pack` (on by default on a CPU): a canvas step and a stream encoding give the
    unpacked model's numbers — bit for bit in bfloat16, within float32's rounding in float32 — and
    a forward pass that wants gradients multiplies by the weights themselves, so training updates
    what inference reads (after `pack` again)."""
    from engine.backends.native import NativeBackend
    from engine.canvas import Layout

    try:  # oneDNN packs bfloat16 only with AVX-512 (BW/VL/DQ) or AVX-NE-CONVERT
        torch.ops.mkldnn._reorder_linear_weight(torch.zeros(4, 4, dtype=torch.bfloat16), 1)
        bf16_packs = True
    except RuntimeError:
        bf16_packs = False
    for dtype in ("bfloat16", "float32"):
        backend = NativeBackend.tiny_random(torch.device("cpu"), dtype=dtype)
        model = backend.model
        if dtype == "bfloat16" and not bf16_packs:  # refused: plain products, and the backend says so
            assert model.packed is None and not backend.info.extra.get("packed")
            assert all(block.packed is None for block in model.blocks)
            continue
        assert backend.info.extra.get("packed") and model.packed is not None
        ids = backend.encode("def f(x):\n    return x + 1\n\nprint(f(2))\n")
        layout = Layout([ids[:9], ids[9:]], [8])
        canvas = torch.full((2, 8), backend.mask_id)
        canvas[1, :2] = torch.tensor(ids[3:5])
        with torch.inference_mode():
            packed = backend.step(backend.prepare(layout, None), canvas, layout)
            model.unpack()
            plain = backend.step(backend.prepare(layout, None), canvas, layout)
        if dtype == "bfloat16":
            assert torch.equal(packed, plain)
        else:
            torch.testing.assert_close(packed, plain, rtol=1e-4, atol=1e-4)
    model.pack()
    x = torch.tensor([ids])
    with torch.enable_grad():
        h = model(x, torch.arange(len(ids))[None], torch.zeros_like(x), torch.ones(1, 1, len(ids), len(ids), dtype=torch.bool))
        model.logits(h).sum().backward()
    assert model.blocks[0].qkv.weight.grad is not None and model.embed.weight.grad is not None
    half = NativeBackend.tiny_random(torch.device("cpu"), dtype="float16")
    assert half.model.packed is None and "packed" not in half.info.extra  # oneDNN packs float32/bfloat16 only


def test_text_that_spells_a_special_token_is_encoded_as_text():
    """A document about models may contain `<|mask|>`: the context must hold those characters,
    not the mask the model fills."""
    from engine.backends.native import NativeBackend

    backend = NativeBackend.tiny_random(torch.device("cpu"))
    ids = backend.encode("x = '<|mask|>'\n")
    assert backend.mask_id not in ids and not (set(ids) & set(backend.eom_ids))
    assert backend.tok.decode(ids) == "x = '<|mask|>'\n"
