"""The seeded shuffle buffer every training reader uses (shard folders, Parquet, mixtures)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def shuffled(items: Iterable[T], size: int, rng: random.Random) -> Iterator[T]:
    """Shuffle buffer over a finite stream: random picks once full, the rest shuffled at the end.

    Yields every item exactly once; ``size <= 1`` keeps the stream's order. Callers with an
    endless stream feed it one pass at a time, so each pass is drained before the next begins.

    Args:
        items: The stream (one pass).
        size: Items held in the buffer.
        rng: Seeded generator; the same seed gives the same order.
    """
    size = max(1, size)
    buffer: list[T] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        index = rng.randrange(size)
        buffer[index], item = item, buffer[index]
        yield item
    rng.shuffle(buffer)
    yield from buffer
