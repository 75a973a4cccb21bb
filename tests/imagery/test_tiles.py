"""Web-Mercator tile math, zoom choice and mosaicking across tile edges."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.imagery import open_imagery
from rsvl.imagery.tiles import WORLD_HALF, flip_y, tile_bounds, tile_span


def test_tile_math_by_hand() -> None:
    assert tile_bounds(0, 0, 0) == pytest.approx((-WORLD_HALF, -WORLD_HALF, WORLD_HALF, WORLD_HALF))
    assert tile_bounds(1, 1, 0) == pytest.approx((0, 0, WORLD_HALF, WORLD_HALF))
    assert tile_span(17) * 2**17 == pytest.approx(2 * WORLD_HALF)
    assert flip_y(1, 0) == 1 and flip_y(17, 50162) == 2**17 - 1 - 50162


def test_mosaic_across_tile_edges_matches_the_tiles(shared_data: Path) -> None:
    folder = shared_data / "sintra" / "tiles" / "17"
    imagery = open_imagery(folder)
    # A 256 px chip at native resolution centred on the corner of four tiles.
    _, bottom, right, _ = tile_bounds(17, 62093, 50163)
    half = tile_span(17) / 2
    chip = imagery.read((right - half, bottom - half, right + half, bottom + half), 256,
                        resampling="nearest")
    assert chip.valid.all()
    quads = [(62093, 50163, np.s_[:128, :128], np.s_[128:, 128:]),
             (62094, 50163, np.s_[:128, 128:], np.s_[128:, :128]),
             (62093, 50164, np.s_[128:, :128], np.s_[:128, 128:]),
             (62094, 50164, np.s_[128:, 128:], np.s_[:128, :128])]
    for x, y, chip_part, tile_part in quads:
        tile = np.asarray(Image.open(folder / str(x) / f"{y}.jpg").convert("RGB"))
        np.testing.assert_array_equal(chip.rgb[chip_part], tile[tile_part])


def test_zoom_choice_follows_the_chip_resolution(shared_data: Path) -> None:
    imagery = open_imagery(shared_data / "kampala" / "tiles")
    assert imagery.zooms == [19, 20, 21] and imagery.tile_size == 256
    native = tile_span(21) / 256
    assert imagery.choose_zoom(native) == 21
    assert imagery.choose_zoom(native * 1.5) == 21  # z20 would be coarser than asked
    assert imagery.choose_zoom(native * 2) == 20
    assert imagery.choose_zoom(native * 100) == 19
    assert imagery.choose_zoom(native / 4) == 21  # capped at the finest zoom
    # Kampala is at 0.35 N: ground gsd is the Mercator pixel times cos(latitude).
    # (geodesic on the WGS84 ellipsoid: north-south metres are 0.7 % shorter at the equator)
    assert imagery.gsd_m == pytest.approx(native * math.cos(math.radians(0.35)), rel=5e-3)
