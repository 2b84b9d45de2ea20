"""Canvas layout: fixed context streams and masked hole spans, with document positions.

Document order is stream 0, hole 0, stream 1, hole 1, …, stream n. Each hole occupies its length
bucket in the document; the canvas tensor is the holes' spans concatenated.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


def first_bucket(buckets: list[int], length_hint: int | None, single_line: bool, max_tokens: int,
                 pinned: int = 0) -> int:
    """The first bucket a hole gets: room for the hinted length plus an end-of-middle token, else a
    default by kind (one line is usually short). Never above the bucket that covers `max_tokens`.
    `pinned` tokens already written at the hole's start (its line lead) come on top of a hint and of
    the budget; without a hint the default holds a whole line or block, lead included (a canvas is
    trained as the whole line), with room for at least 8 more tokens."""
    default = 16 if single_line else 32
    want = pinned + length_hint + 1 if length_hint is not None else max(default, pinned + 8)
    return min(next((b for b in buckets if b >= want), buckets[-1]), cap_bucket(buckets, max_tokens + pinned))


def cap_bucket(buckets: list[int], tokens: int) -> int:
    """The smallest bucket that holds `tokens` (the largest if none does)."""
    return next((b for b in buckets if b >= tokens), buckets[-1])


def next_bucket(buckets: list[int], size: int) -> int | None:
    return next((b for b in buckets if b > size), None)


@dataclass
class Layout:
    streams: list[list[int]]  # token ids of each text segment (already budgeted)
    hole_sizes: list[int]  # canvas width of each hole (its bucket)
    cached_tokens: int = 0
    stream_offsets: list[int] = field(init=False)
    hole_offsets: list[int] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.streams) != len(self.hole_sizes) + 1:
            raise ValueError("a layout needs one more stream than holes")
        self.stream_offsets, self.hole_offsets = [], []
        doc = 0
        for i, s in enumerate(self.streams):
            self.stream_offsets.append(doc)
            doc += len(s)
            if i < len(self.hole_sizes):
                self.hole_offsets.append(doc)
                doc += self.hole_sizes[i]

    @property
    def canvas_len(self) -> int:
        return sum(self.hole_sizes)

    @property
    def context_len(self) -> int:
        return sum(len(s) for s in self.streams)

    def hole_slices(self) -> list[slice]:
        out, start = [], 0
        for size in self.hole_sizes:
            out.append(slice(start, start + size))
            start += size
        return out

    def canvas_positions(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """[C] document position of every canvas token."""
        return torch.cat([torch.arange(o, o + n, device=device) for o, n in zip(self.hole_offsets, self.hole_sizes)])

    def hole_index(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """[C] which hole each canvas position belongs to."""
        return torch.cat([torch.full((n,), i, device=device, dtype=torch.long) for i, n in enumerate(self.hole_sizes)])

    def document(self, canvas_row: list[int]) -> list[int]:
        """The full token sequence in document order with `canvas_row` in the holes (for backends
        that run the whole sequence: full-bidirectional models)."""
        out: list[int] = []
        for i, s in enumerate(self.streams):
            out += s
            if i < len(self.hole_sizes):
                sl = self.hole_slices()[i]
                out += canvas_row[sl]
        return out

    def grown(self, hole: int, size: int) -> "Layout":
        sizes = list(self.hole_sizes)
        sizes[hole] = size
        return Layout(self.streams, sizes, self.cached_tokens)


def budget_streams(streams: list[list[int]], max_context: int, prefix_share: float = 0.75) -> list[list[int]]:
    """Fit context into `max_context` tokens: the first stream keeps its end (nearest the first
    hole), the last keeps its start, middle streams keep both ends. The prefix gets `prefix_share`
    of the budget when both sides overflow; unused budget moves to the other side."""
    total = sum(len(s) for s in streams)
    if total <= max_context:
        return streams
    if len(streams) == 1:
        return [streams[0][-max_context:]]
    middle = streams[1:-1]
    mid_budget = min(sum(len(s) for s in middle), max_context // 4)
    per_mid = mid_budget // max(1, len(middle))
    middle = [s if len(s) <= per_mid else s[:per_mid // 2] + s[len(s) - (per_mid - per_mid // 2):] for s in middle]
    left = max_context - sum(len(s) for s in middle)
    pre, suf = streams[0], streams[-1]
    pre_budget = max(int(left * prefix_share), left - len(suf))
    pre_budget = min(pre_budget, len(pre))
    suf_budget = min(len(suf), left - pre_budget)
    return [pre[len(pre) - pre_budget:], *middle, suf[:suf_budget]]
