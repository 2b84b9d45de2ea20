"""The denoising loop on synthetic step functions (exact control over what the 'model' predicts)."""
from __future__ import annotations

import torch

from engine.sampler import CanvasState, SamplerConfig, denoise

MASK, EOM, A, B, V = 1, 2, 5, 6, 8


def step_fn(x: torch.Tensor) -> torch.Tensor:
    """Position 0 is A (p≈0.6). Position 1 looks like the end of the fill (EOM, p≈0.9) until position 0
    is written; then it is clearly B (p≈0.95). Later positions are EOM (p≈0.97)."""
    logits = torch.full((x.shape[0], x.shape[1], V), -4.0)
    logits[:, 0, A] = 1.0
    logits[:, 0, B] = 0.5
    written = x[:, 0] != MASK
    logits[:, 1, EOM] = torch.where(written, -4.0, 3.0)
    logits[:, 1, B] = torch.where(written, 4.0, -4.0)
    logits[:, 2:, EOM] = 6.0
    return logits


def run(anchor: bool) -> tuple[list[int], int]:
    state = CanvasState(torch.zeros(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.bool), torch.zeros(1, 6))
    nfe = denoise(step_fn, state, torch.zeros(6, dtype=torch.long), cfg=SamplerConfig(anchor_eom=anchor),
                  mask_id=MASK, eom_ids=torch.tensor([EOM]), temperatures=torch.zeros(1))
    assert bool(state.committed.all())
    return state.tokens[0].tolist(), nfe


def test_anchored_end_of_middle_keeps_the_fill():
    tokens, _ = run(anchor=True)
    assert tokens[:3] == [A, B, EOM]


def test_unanchored_end_of_middle_swallows_the_fill():
    """The failure the rule prevents: a confident end-of-middle committed before its left neighbour."""
    tokens, _ = run(anchor=False)
    assert tokens[:2] == [A, EOM]


def test_end_of_middle_fills_the_rest_of_its_hole_only():
    def two_holes(x):
        logits = torch.full((1, 6, V), -4.0)
        logits[:, :, A] = 2.0
        logits[:, 1, EOM] = 5.0  # hole 0 ends after one token
        return logits

    state = CanvasState(torch.zeros(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.bool), torch.zeros(1, 6))
    denoise(two_holes, state, torch.tensor([0, 0, 0, 1, 1, 1]), cfg=SamplerConfig(), mask_id=MASK,
            eom_ids=torch.tensor([EOM]), temperatures=torch.zeros(1))
    assert state.tokens[0].tolist() == [A, EOM, EOM, A, A, A]


def test_end_run_commits_the_padding_in_one_step():
    """Every position predicts end-of-middle, most confidently at the right: with end runs the
    whole hole ends in one forward pass; without, one padding position per pass."""
    def all_end(x):
        logits = torch.full((1, 6, V), -4.0)
        logits[0, :, A] = 0.0
        logits[0, :, EOM] = torch.linspace(0.5, 1.5, 6)  # p(end) below the threshold everywhere
        return logits

    def go(end_run: bool) -> tuple[list[int], int]:
        state = CanvasState(torch.zeros(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.bool), torch.zeros(1, 6))
        nfe = denoise(all_end, state, torch.zeros(6, dtype=torch.long), cfg=SamplerConfig(end_run=end_run, stable_conf=1.1),
                      mask_id=MASK, eom_ids=torch.tensor([EOM]), temperatures=torch.zeros(1))
        return state.tokens[0].tolist(), nfe

    assert go(True) == ([EOM] * 6, 1)
    tokens, nfe = go(False)
    assert tokens == [EOM] * 6 and nfe == 6


def test_end_run_stops_at_content_and_at_hole_boundaries():
    """Hole 0 = positions 0..3: position 0 predicts A, 1..3 end (the most confident at 3). Hole 1 =
    positions 4..7 predicts end everywhere but less confidently: the run committed in hole 0 must
    not leak into it, nor swallow position 0."""
    def f(x):
        logits = torch.full((1, 8, V), -4.0)
        logits[0, :, A] = 0.0
        logits[0, 0, A] = 0.5
        logits[0, 0, B] = 0.4  # p(A) about 0.5: not committed in the first step
        logits[0, 1:4, EOM] = torch.tensor([0.6, 0.7, 3.0])
        logits[0, 4:, EOM] = 0.2
        return logits

    state = CanvasState(torch.zeros(1, 8, dtype=torch.long), torch.zeros(1, 8, dtype=torch.bool), torch.zeros(1, 8))
    hole_idx = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    cfg = SamplerConfig(threshold=0.9, stable_conf=1.1)
    denoise(f, state, hole_idx, cfg=cfg, mask_id=MASK, eom_ids=torch.tensor([EOM]), temperatures=torch.zeros(1))
    assert state.tokens[0, :4].tolist() == [A, EOM, EOM, EOM]
    # after step 1 only hole 0's run is committed
    state = CanvasState(torch.zeros(1, 8, dtype=torch.long), torch.zeros(1, 8, dtype=torch.bool), torch.zeros(1, 8))
    cfg.max_steps = 1
    denoise(f, state, hole_idx, cfg=cfg, mask_id=MASK, eom_ids=torch.tensor([EOM]), temperatures=torch.zeros(1))
    assert state.committed[0].tolist() == [False, True, True, True, False, False, False, False]


def test_leftmost_fallback_commits_each_holes_first_open_position():
    """Nothing passes the threshold: the default commits the row's most confident position (the
    right end here); `fallback="leftmost"` commits the first open position of every hole instead,
    so a fill is written left to right where the model is unsure."""
    def f(x):
        logits = torch.full((1, 8, V), -4.0)
        logits[0, :, A] = torch.tensor([0.0, 0.1, 0.2, 1.5, 0.0, 0.1, 0.2, 1.0])
        logits[0, :, B] = 0.0
        return logits

    hole_idx = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])

    def first_step(fallback: str, committed: list[bool]) -> list[bool]:
        state = CanvasState(torch.full((1, 8), A), torch.tensor([committed]), torch.zeros(1, 8))
        denoise(f, state, hole_idx, cfg=SamplerConfig(fallback=fallback, max_steps=1, stable_conf=1.1),
                mask_id=MASK, eom_ids=torch.tensor([EOM]), temperatures=torch.zeros(1))
        return state.committed[0].tolist()

    nothing = [False] * 8
    assert first_step("confident", nothing) == [False, False, False, True, False, False, False, False]
    assert first_step("leftmost", nothing) == [True, False, False, False, True, False, False, False]
    # committed positions are skipped: the first *open* one of each hole
    assert first_step("leftmost", [True, True, False, False, False, False, False, True]) == \
        [True, True, True, False, True, False, False, True]


def test_end_run_takes_only_ends_the_model_is_sure_of():
    """The length trap: far from the content the end is every position's most likely token without
    being likely. With `end_run_conf` the run a committed end takes with it stops at the first position
    whose end is less sure than that, so the fill keeps its room."""
    def f(x):
        logits = torch.full((1, 6, V), -4.0)
        logits[0, :, A] = 0.0
        logits[0, :, B] = 0.0
        logits[0, :, EOM] = torch.tensor([-1.0, 0.5, 0.6, 2.5, 3.0, 5.0])  # p(end) .15 .44 .47 .85 .91 .99
        return logits

    def first_step(**kw) -> list[bool]:
        state = CanvasState(torch.zeros(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.bool), torch.zeros(1, 6))
        denoise(f, state, torch.zeros(6, dtype=torch.long), cfg=SamplerConfig(max_steps=1, stable_conf=1.1, **kw),
                mask_id=MASK, eom_ids=torch.tensor([EOM]), temperatures=torch.zeros(1))
        return state.committed[0].tolist()

    assert first_step() == [False, True, True, True, True, True]  # every end prediction joins the run
    assert first_step(end_run_conf=0.7) == [False, False, False, True, True, True]


def test_compact_steps_see_only_open_columns_and_commit_the_same():
    """`compact=True` (CPUs): the step is asked for the open columns alone, and the loop commits what
    it commits with full-width logits — with a constraint on a position, and two rows that open and
    close at different positions."""
    seen = []

    def full(x):
        logits = torch.full((x.shape[0], x.shape[1], V), -4.0)
        logits[:, :, A] = torch.linspace(0.0, 2.0, x.shape[1])  # A or B, unsure: written left to right
        logits[:, :, B] = logits[:, :, A] - 0.5
        logits[1, 3, EOM] = 5.0  # row 1's fill ends at position 3
        return logits

    def compact(x, cols):
        seen.append((cols.tolist(), (x == MASK).any(0).nonzero()[:, 0].tolist()))
        return full(x)[:, cols]

    allowed = torch.zeros(V, dtype=torch.bool)
    allowed[B] = True
    results = []
    for fn, flag in ((full, False), (compact, True)):
        state = CanvasState(torch.zeros(2, 6, dtype=torch.long), torch.zeros(2, 6, dtype=torch.bool), torch.zeros(2, 6))
        state.tokens[0, 0], state.committed[0, 0] = A, True  # row 0 starts with position 0 written
        nfe = denoise(fn, state, torch.zeros(6, dtype=torch.long), cfg=SamplerConfig(fallback="leftmost"),
                      mask_id=MASK, eom_ids=torch.tensor([EOM]), temperatures=torch.zeros(2),
                      constraints={2: allowed}, compact=flag)
        results.append((state.tokens.tolist(), state.committed.tolist(), state.logp.tolist(), nfe))
    assert results[0] == results[1]
    assert results[0][0][0][2] == B and results[0][0][1][3] == EOM
    assert seen and all(cols == open_ for cols, open_ in seen)  # the columns asked for are the open ones
    assert seen[0][0] == [0, 1, 2, 3, 4, 5] and len(seen[-1][0]) < 6
