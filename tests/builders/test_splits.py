"""Spatially blocked splits: seeded cells, and no chip of one split overlaps another split's."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import shapely

from rsvl.builders.splits import check_fractions, split_of_footprint, touched_cells
from rsvl.errors import ConfigError

FRACTIONS = (0.6, 0.2, 0.2)


def test_touched_cells_half_open() -> None:
    assert touched_cells((0.0, 0.0, 100.0, 100.0), 100.0) == [(0, 0)]
    assert touched_cells((50.0, 0.0, 150.0, 10.0), 100.0) == [(0, 0), (1, 0)]
    assert touched_cells((-10.0, -10.0, -5.0, -5.0), 100.0) == [(-1, -1)]
    assert touched_cells((100.0, 100.0, 100.0, 100.0), 100.0) == [(1, 1)]


def test_same_seed_same_split_and_fractions_respected() -> None:
    splits = [split_of_footprint((c * 10.0 + 1, 1.0, c * 10.0 + 9, 9.0), 10.0, 7, FRACTIONS)
              for c in range(3000)]
    again = [split_of_footprint((c * 10.0 + 1, 1.0, c * 10.0 + 9, 9.0), 10.0, 7, FRACTIONS)
             for c in range(3000)]
    assert splits == again
    counts = Counter(splits)
    assert abs(counts["train"] / 3000 - 0.6) < 0.05
    assert abs(counts["test"] / 3000 - 0.2) < 0.05
    other_seed = [split_of_footprint((c * 10.0 + 1, 1.0, c * 10.0 + 9, 9.0), 10.0, 8, FRACTIONS)
                  for c in range(3000)]
    assert other_seed != splits


def test_no_chip_overlaps_a_chip_of_another_split() -> None:
    rng = random.Random(0)
    chips = []
    for _ in range(600):
        x, y, side = rng.uniform(0, 1000), rng.uniform(0, 1000), rng.uniform(5, 60)
        footprint = (x, y, x + side, y + side)
        split = split_of_footprint(footprint, 100.0, 3, FRACTIONS)
        if split is not None:
            chips.append((shapely.box(*footprint), split))
    assert len({split for _, split in chips}) == 3
    assert 300 < len(chips) < 600  # some chips straddle cells of different splits
    tree = shapely.STRtree([geometry for geometry, _ in chips])
    for geometry, split in chips:
        for other in tree.query(geometry, predicate="intersects").tolist():
            if chips[other][1] != split:
                assert geometry.intersection(chips[other][0]).area == 0


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.1, 0.2), (1.2, -0.1, -0.1)])
def test_bad_fractions(fractions: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="split fractions"):
        check_fractions(fractions)


def test_bad_cell_size() -> None:
    with pytest.raises(ConfigError, match="cell size"):
        split_of_footprint((0, 0, 1, 1), 0.0, 0, FRACTIONS)
