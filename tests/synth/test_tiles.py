"""The XYZ pyramid: web-mercator tiles at two zooms that cover the region and hold its pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pyproj import Transformer

from rsvl.synth import RegionInfo
from rsvl.synth.tiles import native_zoom, tile_bounds, tile_lonlat_bounds


def _tiles(region: RegionInfo) -> dict[tuple[int, int, int], str]:
    assert region.tiles_dir is not None
    found = {}
    for path in region.tiles_dir.rglob("*.png"):
        z, x, y = path.relative_to(region.tiles_dir).with_suffix("").parts
        found[(int(z), int(x), int(y))] = str(path)
    return found


def test_tiles_cover_the_region_at_two_zooms(small_region: RegionInfo) -> None:
    tiles = _tiles(small_region)
    zooms = sorted({z for z, _, _ in tiles})
    assert zooms == list(small_region.tile_zooms) and len(zooms) == 2 and zooms[1] == zooms[0] + 1
    west, south, east, north = small_region.bounds_lonlat
    for z in zooms:
        boxes = [tile_lonlat_bounds(*key) for key in tiles if key[0] == z]
        assert min(b[0] for b in boxes) <= west and max(b[2] for b in boxes) >= east
        assert min(b[1] for b in boxes) <= south and max(b[3] for b in boxes) >= north


def test_tiles_are_rgba_pngs_with_data(small_region: RegionInfo) -> None:
    tiles = _tiles(small_region)
    for path in list(tiles.values())[:6]:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.mode == "RGBA" and image.size == (256, 256)
            alpha = np.asarray(image)[..., 3]
        assert alpha.max() == 255


def test_tile_centre_pixel_matches_orthophoto(small_region: RegionInfo) -> None:
    """A tile pixel at the region's centre shows the orthophoto's colour there."""
    import rasterio

    z = max(small_region.tile_zooms)
    with rasterio.open(small_region.orthophoto_path) as src:
        cx, cy = (src.bounds.left + src.bounds.right) / 2, (src.bounds.bottom + src.bounds.top) / 2
        block = (
            src.read(window=rasterio.windows.Window(295, 295, 10, 10)).reshape(3, -1).mean(axis=1)
        )
    mx, my = Transformer.from_crs(small_region.crs, "EPSG:3857", always_xy=True).transform(cx, cy)
    for (tz, x, y), path in _tiles(small_region).items():
        w, s, e, n = tile_bounds(tz, x, y)
        if tz == z and w <= mx < e and s <= my < n:
            col, row = int((mx - w) / (e - w) * 256), int((n - my) / (n - s) * 256)
            with Image.open(path) as image:
                patch = np.asarray(image)[row - 6 : row + 6, col - 6 : col + 6, :3].reshape(-1, 3)
            assert np.abs(patch.mean(axis=0) - block).max() < 25
            return
    pytest.fail("no tile contains the region's centre")


def test_tile_math() -> None:
    assert tile_lonlat_bounds(0, 0, 0)[0] == -180.0
    assert tile_bounds(1, 1, 0)[0] == pytest.approx(0.0)
    assert native_zoom(1.0, 47.8) == 17
    assert native_zoom(0.5, 47.8) == 18
