"""transformers backends on tiny random models saved to temp folders (no downloads):

* hf_masked: a BERT masked LM (same-position logits), a bidirectional Gemma LM run as a
  Dream-style shifted-logits model, the dual cache, remote-code and hub-cache refusals;
* diffusion_gemma: a tiny DiffusionGemmaForBlockDiffusion.
Each model goes through `load_engine(str(folder))`, as a user's model folder would.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.api import CancelToken, Cancelled, Hole, InfillError, InfillRequest, load_engine
from engine.backends.hf_masked import shift_logits
from engine.canvas import Layout

TOKENIZER = Path(__file__).resolve().parents[2] / "engine" / "weights" / "tokenizer.json"
VOCAB = 8192
PY = ["def add(a, b):\n    return ", Hole(max_tokens=8), "\n\nprint(add(1, 2))\n"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run many small ops: on a busy 2-core machine two OpenMP threads thrash (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tokenizer(**extra):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER), pad_token="<|pad|>", mask_token="<|mask|>",
                                   eos_token="<|eos|>", **extra)


def _save(model, folder: Path, **tok_extra) -> Path:
    model.save_pretrained(folder)
    _tokenizer(**tok_extra).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512, pad_token_id=0)
    return _save(BertForMaskedLM(cfg).eval(), tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def shifted_dir(tmp_path_factory) -> Path:
    """A causal-LM architecture run bidirectionally: the shape of Dream/DiffuCoder (AR-initialised,
    logits at i predict i+1), built in, so no remote code."""
    from transformers import GemmaConfig, GemmaForCausalLM

    torch.manual_seed(1)
    cfg = GemmaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=1024,
                      use_bidirectional_attention=True, pad_token_id=0, eos_token_id=6, bos_token_id=3)
    return _save(GemmaForCausalLM(cfg).eval(), tmp_path_factory.mktemp("shifted"))


@pytest.fixture(scope="module")
def dg_dir(tmp_path_factory) -> Path:
    from transformers import DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion

    torch.manual_seed(2)
    text = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=1, head_dim=16, global_head_dim=16, num_global_key_value_heads=1,
                layer_types=["sliding_attention", "full_attention"], sliding_window=64,
                max_position_embeddings=4096, num_experts=2, top_k_experts=1, moe_intermediate_size=16,
                pad_token_id=0, eos_token_id=6, bos_token_id=3)
    vision = dict(model_type="gemma4_vision", hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                  num_attention_heads=2, num_key_value_heads=2, head_dim=8, position_embedding_size=64)
    cfg = DiffusionGemmaConfig(text_config=text, vision_config=vision, canvas_length=64)
    return _save(DiffusionGemmaForBlockDiffusion(cfg).eval(), tmp_path_factory.mktemp("dgemma"),
                 bos_token="<|pre|>")


def _layout(backend, texts: list[str], sizes: list[int]) -> Layout:
    return Layout([backend.encode(t) for t in texts], sizes)


# ---- hf_masked: same-position ---------------------------------------------------------------------
def test_bert_folder_infills(bert_dir):
    eng = load_engine(str(bert_dir))
    assert eng.info["name"] == "masked-lm" and eng.info["mask_id"] == 1 and not eng.info["logit_shift"]
    assert {0, 6} <= eng.backend.eom_ids and 1 not in eng.backend.eom_ids
    res = eng.infill(InfillRequest(segments=PY, candidates=2))
    assert len(res.candidates) == 2 and all(len(c.fills) == 1 for c in res.candidates)
    assert 1 <= res.stats.nfe <= res.stats.tokens <= 16 and res.stats.context_tokens > 0
    # budget 8 tokens; the fill re-tokenized on its own may split differently from the canvas, whose
    # first token also spelled the end of the typed `return ` (token healing)
    assert len(eng.backend.encode(res.fills[0])) <= 8 + 2


def test_text_that_spells_a_special_token_is_encoded_as_text(bert_dir, dg_dir):
    for folder in (bert_dir, dg_dir):
        backend = load_engine(str(folder)).backend
        ids = backend.encode("x = '<|mask|>' + '<|pad|>'\n")
        assert not {backend.mask_id, *backend.eom_ids} & set(ids)
        assert backend.decode(ids) == "x = '<|mask|>' + '<|pad|>'\n"


def test_exact_step_is_the_model_on_the_whole_document(bert_dir):
    b = load_engine(str(bert_dir)).backend
    lay = _layout(b, ["x = ", "\ny = ", "\n"], [8, 8])
    canvas = torch.randint(10, VOCAB, (2, 16))
    with torch.inference_mode():
        got = b.step(b.prepare(lay, None), canvas, lay)
        docs = torch.tensor([lay.document(row.tolist()) for row in canvas])
        want = b.model(input_ids=docs).logits[:, lay.canvas_positions()]
    assert got.shape == (2, 16, VOCAB)
    torch.testing.assert_close(got, want)


# ---- hf_masked: shifted logits --------------------------------------------------------------------
def test_shift_logits_moves_predictions_one_right():
    logits = torch.eye(5)[None].repeat(2, 1, 1)  # [B=2, L=5, V=5]: position i "predicts" token i
    shifted = shift_logits(logits)
    assert shifted.argmax(-1).tolist() == [[0, 0, 1, 2, 3]] * 2  # i takes i-1's output; 0 keeps its own


def test_shifted_family_reads_the_predecessor_logits(shifted_dir):
    eng = load_engine(str(shifted_dir), logit_shift=True, mask_id=1)
    b = eng.backend
    assert eng.info["logit_shift"]
    lay = _layout(b, ["a = 1\nb = ", "\nc = ", "\n"], [8, 8])
    canvas = torch.randint(10, VOCAB, (1, 16))
    with torch.inference_mode():
        got = b.step(b.prepare(lay, None), canvas, lay)
        out = b.model(input_ids=torch.tensor([lay.document(canvas[0].tolist())])).logits
    torch.testing.assert_close(got, out[:, lay.canvas_positions() - 1])
    assert len(eng.infill(InfillRequest(segments=PY)).fills) == 1


def test_dream_config_picks_the_shifted_preset(tmp_path):
    from engine.backends.hf_masked import PRESETS, detect_family

    assert detect_family({"model_type": "Dream", "architectures": ["DreamModel"]}) == "dream"
    assert detect_family({"model_type": "llada", "architectures": ["LLaDAModelLM"]}) == "llada"
    assert detect_family({"model_type": "bert"}) == "masked-lm"
    assert PRESETS["dream"].logit_shift and not PRESETS["llada"].logit_shift
    assert PRESETS["llada"].mask_id == 126336 and PRESETS["dream"].mask_id == 151666


# ---- dual cache ------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["bert", "shifted"])
def test_dual_cache_is_exact_right_after_a_refresh(which, bert_dir, shifted_dir):
    folder, opts = (bert_dir, {}) if which == "bert" else (shifted_dir, {"logit_shift": True, "mask_id": 1})
    exact = load_engine(str(folder), **opts).backend
    dual = load_engine(str(folder), dual_cache=True, cache_refresh=3, **opts).backend
    lay = _layout(exact, ["def f(x):\n    y = ", "\n    return ", "\n"], [8, 8])
    c1, c2 = torch.randint(10, VOCAB, (2, 1, 16))
    with torch.inference_mode():
        ctx = dual.prepare(lay, None)
        first = dual.step(ctx, c1, lay)  # a refresh: the whole document
        torch.testing.assert_close(first, exact.step(exact.prepare(lay, None), c1, lay))
        # same canvas as recorded: cached context keys/values are current, so the cached step is exact
        torch.testing.assert_close(dual.step(ctx, c1, lay), first, atol=1e-4, rtol=1e-4)
        stale = dual.step(ctx, c2, lay)  # new canvas, context keys/values from c1: approximate
        fresh = exact.step(exact.prepare(lay, None), c2, lay)
        assert not torch.allclose(stale, fresh, atol=1e-6)  # it really used the stale cache
        assert ctx.since_refresh == 2
        dual.step(ctx, c2, lay)
        torch.testing.assert_close(dual.step(ctx, c2, lay), fresh)  # 3 cached steps -> refresh
        assert ctx.since_refresh == 0


def test_dual_cache_infill_runs(bert_dir):
    eng = load_engine(str(bert_dir), dual_cache=True)
    assert eng.info["dual_cache"]
    res = eng.infill(InfillRequest(segments=["a = ", Hole(max_tokens=16), "\nb = ", Hole(max_tokens=8), "\n"]))
    assert len(res.fills) == 2


def test_dual_cache_refuses_causal_attention(tmp_path):
    from transformers import GemmaConfig, GemmaForCausalLM

    cfg = GemmaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=16, pad_token_id=0)
    _save(GemmaForCausalLM(cfg), tmp_path)
    with pytest.raises(InfillError, match="causal"):
        load_engine(str(tmp_path), dual_cache=True, mask_id=1)


def test_dual_cache_refuses_attention_outside_the_interface(tmp_path):
    from transformers import DebertaV2Config, DebertaV2ForMaskedLM

    cfg = DebertaV2Config(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=512, pad_token_id=0)
    _save(DebertaV2ForMaskedLM(cfg), tmp_path)
    assert load_engine(str(tmp_path)).info["name"] == "masked-lm"  # the exact path serves it
    with pytest.raises(InfillError, match="dual_cache"):
        load_engine(str(tmp_path), dual_cache=True)


# ---- loading rules ---------------------------------------------------------------------------------
def test_remote_code_needs_opt_in(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "llada", "architectures": ["LLaDAModelLM"],
        "auto_map": {"AutoConfig": "configuration_llada.LLaDAConfig", "AutoModel": "modeling_llada.LLaDAModelLM"}}))
    with pytest.raises(InfillError, match="trust-remote-code"):
        load_engine(str(tmp_path))


def test_hub_id_is_local_only_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # belt and braces: this test must never reach the network
    with pytest.raises(InfillError, match="allow_download"):
        load_engine("dg-lsp-test-org/no-such-model")


def test_unknown_option_is_an_error(bert_dir):
    with pytest.raises(InfillError, match="dual_cach"):
        load_engine(str(bert_dir), dual_cach=True)


# ---- DiffusionGemma --------------------------------------------------------------------------------
def test_diffusion_gemma_single_and_two_holes(dg_dir):
    eng = load_engine(str(dg_dir))
    b = eng.backend
    assert eng.info["name"] == "diffusion-gemma"
    assert b.noise == "uniform" and b.default_rule == "entropy" and eng.sampler.rule == "entropy"
    assert {0, 6} <= b.eom_ids and b.vocab_size == VOCAB and max(b.buckets) <= 64
    one = eng.infill(InfillRequest(segments=PY))
    assert len(one.fills) == 1 and one.stats.nfe >= 1
    two = eng.infill(InfillRequest(segments=["x = ", Hole(max_tokens=8), "\ny = ", Hole(max_tokens=8), "\n"]))
    assert len(two.fills) == 2


def test_diffusion_gemma_step_matches_the_model_forward(dg_dir):
    """Prefix through the encoder, block = hole, pinned middle text, hole, pinned suffix."""
    b = load_engine(str(dg_dir)).backend
    lay = _layout(b, ["def f(x):\n    y = ", "\n    return ", "\n\nf(1)\n"], [8, 8])
    canvas = torch.randint(10, VOCAB, (2, 16))
    with torch.inference_mode():
        ctx = b.prepare(lay, None)
        got = b.step(ctx, canvas, lay) * b._temperature(0)
        enc = torch.tensor([[3] + lay.streams[0]]).expand(2, -1)
        block = torch.tensor([lay.document(row.tolist())[len(lay.streams[0]):] for row in canvas])
        want = b.model(input_ids=enc, decoder_input_ids=block).logits
    holes = torch.cat([torch.arange(8), torch.arange(8 + len(lay.streams[1]), 16 + len(lay.streams[1]))])
    torch.testing.assert_close(got, want[:, holes], atol=1e-4, rtol=1e-4)
    assert ctx.self_cond is not None and ctx.self_cond.shape == want.shape  # fed back next step


def test_diffusion_gemma_feeds_self_conditioning_back(dg_dir, monkeypatch):
    eng = load_engine(str(dg_dir))
    seen = []
    forward = eng.backend.model.forward

    def spy(*args, **kwargs):
        seen.append(kwargs.get("self_conditioning_logits"))
        return forward(*args, **kwargs)

    monkeypatch.setattr(eng.backend.model, "forward", spy)
    eng.infill(InfillRequest(segments=PY, tokens_per_step=1, rule="topk"))
    assert seen[0] is None and len(seen) >= 2 and all(s is not None for s in seen[1:])


def test_diffusion_gemma_prefix_cache_is_reused_and_exact(dg_dir):
    b = load_engine(str(dg_dir)).backend
    short = _layout(b, ["import os\n\ndef f(x):\n", "\n"], [8])
    longer = _layout(b, ["import os\n\ndef f(x):\n    y = x\n", "\n"], [8])
    canvas = torch.randint(10, VOCAB, (1, 8))
    with torch.inference_mode():
        b.prepare(short, "doc")
        reused_ctx = b.prepare(longer, "doc")  # extends the cached prefix
        common = next((i for i, (x, y) in enumerate(zip(short.streams[0], longer.streams[0])) if x != y),
                      len(short.streams[0]))
        assert longer.cached_tokens == common > 0  # tokens after the edit point are re-encoded
        reused = b.step(reused_ctx, canvas, longer)
        fresh = b.step(b.prepare(_layout(b, ["import os\n\ndef f(x):\n    y = x\n", "\n"], [8]), None), canvas, longer)
        torch.testing.assert_close(reused, fresh, atol=1e-4, rtol=1e-4)
        back = _layout(b, ["import os\n\ndef g(x):\n", "\n"], [8])  # shares only part: cropped, not rebuilt
        ctx = b.prepare(back, "doc")
        assert 0 < back.cached_tokens < len(back.streams[0])
        torch.testing.assert_close(b.step(ctx, canvas, back), b.step(b.prepare(back, None), canvas, back),
                                   atol=1e-4, rtol=1e-4)


def test_diffusion_gemma_cancellation_between_steps(dg_dir, monkeypatch):
    eng = load_engine(str(dg_dir))
    token, calls = CancelToken(), []
    step = eng.backend.step

    def cancelling_step(ctx, canvas, layout, positions=None):
        calls.append(1)
        if len(calls) == 2:
            token.cancel()
        return step(ctx, canvas, layout, positions)

    monkeypatch.setattr(eng.backend, "step", cancelling_step)
    with pytest.raises(Cancelled):
        eng.infill(InfillRequest(segments=PY, rule="topk", tokens_per_step=1), cancel=token)
    assert len(calls) == 2  # the loop stopped at the check after the step that fired the token


def test_diffusion_gemma_candidates(dg_dir):
    eng = load_engine(str(dg_dir))
    res = eng.infill(InfillRequest(segments=PY, candidates=3, alt_temperature=1.0))
    assert len(res.candidates) == 3 and all(len(c.fills) == 1 for c in res.candidates)
    assert len({c.fills[0] for c in res.candidates}) >= 2  # sampled rows differ from the greedy one


def test_hub_id_from_the_local_cache_routes_diffusion_gemma(dg_dir, monkeypatch, tmp_path):
    """A hub id found in the local HF cache (no network): config.json's model_type picks the backend."""
    import shutil

    from huggingface_hub import constants

    repo = tmp_path / "models--dg-lsp-test--tiny-dgemma"
    snapshot = repo / "snapshots" / ("0" * 40)
    shutil.copytree(dg_dir, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    eng = load_engine("dg-lsp-test/tiny-dgemma")
    assert eng.info["name"] == "diffusion-gemma"
    assert len(eng.infill(InfillRequest(segments=PY)).fills) == 1
