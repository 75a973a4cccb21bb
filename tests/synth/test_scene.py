"""The region grid."""

from __future__ import annotations

from rsvl.synth.scene import RegionGrid


def test_grid_geometry() -> None:
    grid = RegionGrid(size_m=500.0, gsd_m=2.0)
    assert (grid.width, grid.height) == (250, 250)
    assert grid.bounds == (grid.west, grid.south, grid.west + 500.0, grid.south + 500.0)
    assert grid.transform @ (0, 0) == (grid.west, grid.north)
    assert grid.transform @ (250, 250) == (grid.east, grid.south)
