"""Write the orthophoto (a Cloud-Optimised GeoTIFF) and the class raster, atomically.

Both are built in GDAL's memory filesystem and copied into place with ``atomic_open``, so a
half-written file never exists. GDAL writes no timestamps into these files, so the bytes are
a function of the pixels alone (the determinism tests rely on it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rio_copy

from rsvl.data.atomic import atomic_open
from rsvl.synth.scene import RegionGrid

BLOCK = 256
OVERVIEW_LEVELS = (2, 4, 8)


def _profile(grid: RegionGrid, count: int, dtype: str) -> dict:
    return {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": count,
        "dtype": dtype,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": 0,
    }


def _write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_orthophoto(rgb: np.ndarray, grid: RegionGrid, path: str | Path) -> None:
    """Write a (3, rows, cols) uint8 image as an RGB COG: 256 px tiles, DEFLATE, overviews.

    No-data is 0 (the margin); the renderer never produces 0 inside the valid area.
    """
    with MemoryFile() as plain, MemoryFile() as cog:
        with plain.open(**_profile(grid, 3, "uint8")) as dst:
            dst.write(rgb)
            dst.colorinterp = [
                rasterio.enums.ColorInterp.red,
                rasterio.enums.ColorInterp.green,
                rasterio.enums.ColorInterp.blue,
            ]
        with plain.open() as src:
            rio_copy(
                src,
                cog.name,
                driver="COG",
                blocksize=BLOCK,
                compress="DEFLATE",
                predictor=2,
                overview_resampling="average",
                overviews="AUTO",
                overview_count=len(OVERVIEW_LEVELS),
                num_threads=2,
            )
        _write_bytes(path, cog.read())


def write_classes(classes: np.ndarray, grid: RegionGrid, path: str | Path) -> None:
    """Write the (rows, cols) uint8 class raster: tiled 256 px, DEFLATE, nodata 0."""
    profile = _profile(grid, 1, "uint8")
    profile.update(tiled=True, blockxsize=BLOCK, blockysize=BLOCK, compress="DEFLATE")
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(classes, 1)
        _write_bytes(path, memory.read())
