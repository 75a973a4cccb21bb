"""Cut georeferenced imagery into a regular grid of chips with their footprints."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from rsvl.errors import ConfigError
from rsvl.imagery.chip import Bounds
from rsvl.imagery.geo import metres_per_unit


@dataclass(frozen=True)
class GridChip:
    """One cell of a chip grid.

    Attributes:
        key: ``r{row}_c{col}``, row 0 at the top (north).
        row: Row in the grid.
        col: Column in the grid.
        bounds: Footprint ``(minx, miny, maxx, maxy)`` in the imagery CRS.
    """

    key: str
    row: int
    col: int
    bounds: Bounds


def chip_extent(crs: str, bounds: Bounds, chip_size_m: float) -> tuple[float, float]:
    """Width and height, in ``crs`` units, of a square chip ``chip_size_m`` metres on the ground.

    Measured at the centre of ``bounds``, so it holds for metric, Web-Mercator and
    geographic CRSs alike.
    """
    if chip_size_m <= 0:
        raise ConfigError(f"chip size must be positive, got {chip_size_m} m")
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    mx, my = metres_per_unit(crs, cx, cy)
    return chip_size_m / mx, chip_size_m / my


def chip_grid(bounds: Bounds, extent: tuple[float, float],
              stride: float = 1.0) -> Iterator[GridChip]:
    """Chips of ``extent`` (CRS units) covering ``bounds`` row by row from the top-left corner.

    Args:
        bounds: Area to cover, ``(minx, miny, maxx, maxy)``.
        extent: Chip width and height in the same units.
        stride: Step between chips as a fraction of the chip (0.5: half overlap).

    Yields:
        Grid cells; the last row and column may reach past ``bounds`` (their pixels outside
        the imagery are invalid, and the caller decides whether enough remains).
    """
    if not 0 < stride <= 1:
        raise ConfigError(f"stride must be in (0, 1] of the chip size, got {stride}")
    width, height = extent
    step_x, step_y = width * stride, height * stride
    columns = max(1, math.ceil((bounds[2] - bounds[0] - width) / step_x - 1e-9) + 1)
    rows = max(1, math.ceil((bounds[3] - bounds[1] - height) / step_y - 1e-9) + 1)
    for row in range(rows):
        top = bounds[3] - row * step_y
        for col in range(columns):
            left = bounds[0] + col * step_x
            yield GridChip(f"r{row:04d}_c{col:04d}", row, col,
                           (left, top - height, left + width, top))
