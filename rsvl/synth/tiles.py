"""The orthophoto as an XYZ tile pyramid on disk: ``tiles/{z}/{x}/{y}.png`` (web mercator).

The finest zoom is the first whose pixels are at least as fine on the ground as the
orthophoto's; the image is reprojected once onto that zoom's tile-aligned grid (bilinear) and
the next coarser zoom averages 2x2 pixels of the one below. Tiles are RGBA PNGs whose alpha is 0
outside the image; tiles with no data at all are not written.
"""

from __future__ import annotations

import io
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from pyproj import Transformer
from rasterio.transform import Affine
from rasterio.warp import Resampling, reproject

from rsvl.data.atomic import atomic_open
from rsvl.synth.scene import RegionGrid

TILE = 256
WEB_MERCATOR = "EPSG:3857"
HALF_WORLD_M = 20037508.342789244
# The native zoom and the one above it: the tile range at the native zoom spans an even number
# of tiles, so one 2x2 averaging step yields whole tiles.
ZOOM_LEVELS = 2


def native_zoom(gsd_m: float, lat_deg: float) -> int:
    """The coarsest zoom whose ground pixel size at ``lat_deg`` is not coarser than ``gsd_m``."""
    equator_m = 2 * HALF_WORLD_M / TILE
    return int(math.ceil(math.log2(equator_m * math.cos(math.radians(lat_deg)) / gsd_m)))


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of tile z/x/y in web-mercator metres."""
    size = 2 * HALF_WORLD_M / 2**z
    west, north = -HALF_WORLD_M + x * size, HALF_WORLD_M - y * size
    return (west, north - size, west + size, north)


def tile_lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of tile z/x/y in degrees."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y))


def _tile_range(grid: RegionGrid, z: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive tile indices covering the grid, with even x0/y0 and odd x1/y1."""
    to_merc = Transformer.from_crs(grid.crs, WEB_MERCATOR, always_xy=True)
    xs, ys = to_merc.transform(
        [grid.west, grid.west, grid.east, grid.east],
        [grid.south, grid.north, grid.south, grid.north],
    )
    size = 2 * HALF_WORLD_M / 2**z
    x0 = int((min(xs) + HALF_WORLD_M) // size) // 2 * 2
    x1 = int((max(xs) + HALF_WORLD_M) // size) // 2 * 2 + 1
    y0 = int((HALF_WORLD_M - max(ys)) // size) // 2 * 2
    y1 = int((HALF_WORLD_M - min(ys)) // size) // 2 * 2 + 1
    return x0, y0, x1, y1


def _png(rgba: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # Level 1: synthetic noise barely compresses better at higher levels, and costs 2x the time.
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_tiles(rgb: np.ndarray, grid: RegionGrid, out_dir: str | Path) -> list[str]:
    """Write the XYZ pyramid of ``rgb`` (3, rows, cols) under ``out_dir``.

    Args:
        rgb: orthophoto pixels, 0 = no data.
        grid: the orthophoto's grid.
        out_dir: folder receiving ``{z}/{x}/{y}.png``.

    Returns:
        The written tiles' paths relative to ``out_dir`` (``z/x/y.png``), sorted.
    """
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    _, lat = to_lonlat.transform((grid.west + grid.east) / 2, (grid.south + grid.north) / 2)
    z_max = native_zoom(grid.gsd_m, lat)
    x0, y0, x1, y1 = _tile_range(grid, z_max)
    size = 2 * HALF_WORLD_M / 2**z_max
    west, _, _, north = tile_bounds(z_max, x0, y0)
    shape = ((y1 - y0 + 1) * TILE, (x1 - x0 + 1) * TILE)
    mosaic = np.zeros((4,) + shape, np.uint8)
    alpha = np.concatenate([rgb, (rgb.max(axis=0, keepdims=True) > 0).astype(np.uint8) * 255])
    reproject(
        alpha,
        mosaic,
        src_transform=grid.transform,
        src_crs=grid.crs,
        dst_transform=Affine(size / TILE, 0, west, 0, -size / TILE, north),
        dst_crs=WEB_MERCATOR,
        resampling=Resampling.bilinear,
        src_nodata=None,
        dst_nodata=0,
    )
    pending: dict[str, np.ndarray] = {}
    for z in range(z_max, z_max - ZOOM_LEVELS, -1):
        rgba = mosaic.copy()
        rgba[:3, rgba[3] < 255] = 0
        rgba[3] = np.where(rgba[3] < 255, 0, 255)
        for row in range(rgba.shape[1] // TILE):
            for col in range(rgba.shape[2] // TILE):
                tile = rgba[:, row * TILE : (row + 1) * TILE, col * TILE : (col + 1) * TILE]
                if not tile[3].any():
                    continue
                pending[f"{z}/{x0 + col}/{y0 + row}.png"] = np.ascontiguousarray(
                    tile.transpose(1, 2, 0)
                )
        quads = mosaic.reshape(4, mosaic.shape[1] // 2, 2, mosaic.shape[2] // 2, 2)
        mosaic = ((quads.sum(axis=(2, 4), dtype=np.uint16) + 2) // 4).astype(np.uint8)
        x0, y0 = x0 // 2, y0 // 2

    def save(name: str) -> None:
        with atomic_open(Path(out_dir) / name, "wb") as handle:
            handle.write(_png(pending[name]))

    # zlib releases the GIL: encoding in threads uses every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(save, sorted(pending)))
    return sorted(pending)
