"""Chip grids: coverage, overlap, metres to CRS units."""

from __future__ import annotations

import pytest

from rsvl.api.tiling import chip_extent, chip_grid
from rsvl.errors import ConfigError


def test_grid_covers_bounds_from_the_top_left() -> None:
    cells = list(chip_grid((0, 0, 100, 50), (25, 25)))
    assert len(cells) == 8 and cells[0].key == "r0000_c0000"
    assert cells[0].bounds == (0, 25, 25, 50) and cells[-1].bounds == (75, 0, 100, 25)
    ragged = list(chip_grid((0, 0, 110, 50), (25, 25)))
    assert max(c.bounds[2] for c in ragged) == 125  # the last column reaches past the edge


def test_stride_overlaps() -> None:
    assert len(list(chip_grid((0, 0, 100, 100), (50, 50), stride=0.5))) == 9
    with pytest.raises(ConfigError, match="stride must be in"):
        list(chip_grid((0, 0, 1, 1), (1, 1), stride=0))


def test_chip_extent_in_metric_and_web_mercator() -> None:
    width, height = chip_extent("EPSG:32633", (500000, 4500000, 501000, 4501000), 100)
    assert width == pytest.approx(100, rel=0.01) and height == pytest.approx(100, rel=0.01)
    mercator = chip_extent("EPSG:3857", (0, 6_000_000, 1000, 6_001_000), 100)  # ~47 deg N
    assert mercator[0] == pytest.approx(147, rel=0.02)  # 1 / cos(latitude)
    with pytest.raises(ConfigError, match="chip size must be positive"):
        chip_extent("EPSG:32633", (0, 0, 1, 1), 0)
