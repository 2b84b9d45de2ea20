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
