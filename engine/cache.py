"""Context key/value caches.

Within a request, the context is encoded once and every denoising step reads it. Across requests,
an LRU keyed by `cache_key` (the document) keeps each stream's keys/values; a stream is re-encoded
only from its first changed token (the embedded model's streams are causal, so everything before
the change is exact). Typing at the cursor changes the end of the prefix stream only.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class LRU(Generic[T]):
    def __init__(self, capacity: int = 8):
        self.capacity = capacity
        self._items: OrderedDict[str, T] = OrderedDict()

    def get(self, key: str | None) -> T | None:
        if key is None or key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: str | None, value: T) -> None:
        if key is None:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def match_streams(old: list, new_ids: list[list[int]], ids_of) -> list:
    """Pair each new stream with the cached stream most likely to share its start: same index when
    the number of streams is unchanged, else the cached stream with the longest common prefix."""
    if old is None:
        return [None] * len(new_ids)
    if len(old) == len(new_ids):
        return list(old)

    def lcp(a: list[int], b: list[int]) -> int:
        n = 0
        for x, y in zip(a, b):
            if x != y:
                break
            n += 1
        return n

    return [max(old, key=lambda c: lcp(ids_of(c), ids), default=None) if old else None for ids in new_ids]
