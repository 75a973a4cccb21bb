"""Planning guards: worldwide sources are cut where the features are, on the source's grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_bounds

from rsvl.builders.guards import grid_cells, is_worldwide, planning_area
from rsvl.builders.partitions import plan_partitions
from rsvl.errors import ConfigError
from rsvl.imagery import open_imagery
from rsvl.imagery.tiles import WORLD_HALF


def _raster(path: Path, bounds: tuple[float, float, float, float], size: int = 64) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3,
                       dtype="uint8", crs="EPSG:3857",
                       transform=from_bounds(*bounds, size, size)) as dataset:
        dataset.write(np.full((3, size, size), 120, dtype=np.uint8))
    return path


def test_worldwide_source_is_cut_on_its_own_grid_lines(tmp_path: Path) -> None:
    world = open_imagery(_raster(tmp_path / "world.tif", (-WORLD_HALF, -WORLD_HALF,
                                                          WORLD_HALF, WORLD_HALF)))
    assert is_worldwide(world)
    side = 2 * WORLD_HALF / 1000  # 1000 x 1000 cells over the world
    features = (1.23e6, 4.56e6, 1.5e6, 4.7e6)
    area = planning_area(world, side, lambda: features)
    cells = plan_partitions(area, side)
    # 270 x 140 km of features in 40 km cells, not the world's million cells.
    assert 0 < len(cells) == grid_cells(area, side) <= 9 * 5
    # Every clipped cell is a cell of the whole world's grid; together they cover the features.
    for cell in cells:
        for edge in cell.bounds:
            steps = (edge + WORLD_HALF) / side
            assert abs(steps - round(steps)) < 1e-6
    assert area[0] <= features[0] and area[1] <= features[1]
    assert area[2] >= features[2] and area[3] >= features[3]
    # Too fine a grid even where the features are: one line naming the fix.
    with pytest.raises(ConfigError, match=r"world\.tif: the build would plan [\d,]+ VQA chips .*"
                       r"\(limit 10\); pass --imagery-option bounds="):
        planning_area(world, side / 100, lambda: features, "VQA chips", limit=10)


def test_bounded_source_keeps_its_plan(tmp_path: Path) -> None:
    local = open_imagery(_raster(tmp_path / "city.tif", (1e6, 4e6, 1.01e6, 4.01e6)))
    assert not is_worldwide(local)
    # Small enough: the imagery's own bounds, whatever the features (outputs stay as they were).
    assert planning_area(local, 100.0, lambda: (1e6, 4e6, 1e6 + 1, 4e6 + 1)) == local.bounds
    # Too many cells over the imagery: cut to the features (a single point works too).
    area = planning_area(local, 1.0, lambda: (1.005e6, 4.005e6, 1.005e6, 4.005e6), limit=100)
    assert grid_cells(area, 1.0) <= 4 and area[0] <= 1.005e6 <= area[2]
