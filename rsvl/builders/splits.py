"""Spatially blocked splits: grid cells hashed to train/val/test.

The grid lives in Web Mercator (``EPSG:3857``) so that chips cut from different imagery
sources over the same ground fall into the same cells. A chip takes the split of every cell
its footprint touches; a chip touching cells of different splits is dropped
(``straddles_split_cells``). Every kept chip therefore lies inside cells of its own split,
and cells of different splits do not overlap, so no test chip overlaps a training chip.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from rsvl.data.records import SPLITS
from rsvl.errors import ConfigError

GRID_CRS = "EPSG:3857"
STRADDLES = "straddles_split_cells"
Bounds = tuple[float, float, float, float]


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    """Validate split fractions (one per split in ``SPLITS`` order, summing to 1)."""
    values = tuple(float(f) for f in fractions)
    if len(values) != len(SPLITS) or any(f < 0 for f in values) or abs(sum(values) - 1) > 1e-6:
        raise ConfigError(
            f"split fractions {list(values)} are invalid: give {len(SPLITS)} non-negative "
            f"numbers for {'/'.join(SPLITS)} that sum to 1 (e.g. 0.8 0.1 0.1)"
        )
    return values


def cell_split(column: int, row: int, seed: int, fractions: Sequence[float]) -> str:
    """The split of grid cell ``(column, row)``: a seeded hash mapped onto the fractions."""
    digest = hashlib.sha256(f"{seed}:{column}:{row}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for split, fraction in zip(SPLITS, fractions, strict=True):
        cumulative += fraction
        if draw < cumulative:
            return split
    return SPLITS[-1]


def touched_cells(bounds: Bounds, cell_size: float) -> list[tuple[int, int]]:
    """Cells ``(column, row)`` whose interior the box overlaps (cells are half-open)."""
    minx, miny, maxx, maxy = bounds
    return [(c, r) for c in _span(minx, maxx, cell_size) for r in _span(miny, maxy, cell_size)]


def _span(low: float, high: float, cell_size: float) -> range:
    first = math.floor(low / cell_size)
    # A box ending exactly on a cell edge does not reach into the next cell.
    return range(first, max(math.ceil(high / cell_size), first + 1))


def split_of_footprint(bounds: Bounds, cell_size: float, seed: int,
                       fractions: Sequence[float]) -> str | None:
    """The split of a chip footprint, or ``None`` when it straddles cells of different splits.

    Args:
        bounds: The chip footprint in :data:`GRID_CRS`.
        cell_size: Side of a grid cell in ``GRID_CRS`` units (Web Mercator metres).
        seed: Seed of the cell hash (the same seed gives the same cells everywhere).
        fractions: Train/val/test fractions.
    """
    if cell_size <= 0:
        raise ConfigError(f"split cell size must be positive, got {cell_size}")
    splits = {cell_split(c, r, seed, fractions) for c, r in touched_cells(bounds, cell_size)}
    return splits.pop() if len(splits) == 1 else None
