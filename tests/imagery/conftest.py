"""Tiny imagery inputs generated per test: GeoTIFFs and tile pyramids."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

# A 10 m UTM 33N grid whose top-left corner is at (500000, 4000000).
ORIGIN = (500000.0, 4000000.0)
PIXEL_M = 10.0


def write_geotiff(path: Path, pixels: np.ndarray, crs: str | None = "EPSG:32633",
                  **profile: Any) -> Path:
    """Write ``pixels`` (bands x H x W) as a tiled GeoTIFF on the 10 m UTM test grid."""
    count, height, width = pixels.shape
    options = {"driver": "GTiff", "width": width, "height": height, "count": count,
               "dtype": pixels.dtype, "transform": from_origin(*ORIGIN, PIXEL_M, PIXEL_M),
               "tiled": True, "blockxsize": 64, "blockysize": 64, **profile}
    if crs is not None:
        options["crs"] = crs
    with rasterio.open(path, "w", **options) as dataset:
        dataset.write(pixels)
    return path


@pytest.fixture
def make_geotiff(tmp_path: Path) -> Callable[..., Path]:
    """``make_geotiff(name, pixels, crs=..., **profile)`` writes a GeoTIFF under tmp_path."""
    return lambda name, pixels, **kwargs: write_geotiff(tmp_path / name, pixels, **kwargs)


def _grid_bounds(col: float, row: float, cols: float, rows: float) -> tuple[float, ...]:
    x0, y0 = ORIGIN
    return (x0 + col * PIXEL_M, y0 - (row + rows) * PIXEL_M,
            x0 + (col + cols) * PIXEL_M, y0 - row * PIXEL_M)


@pytest.fixture
def grid_bounds() -> Callable[..., tuple[float, ...]]:
    """``grid_bounds(col, row, cols, rows)``: bounds of a pixel window on the test grid."""
    return _grid_bounds


@pytest.fixture
def gradient() -> np.ndarray:
    """A 3 x 128 x 128 uint8 image where every pixel differs from its neighbours."""
    rows, cols = np.mgrid[0:128, 0:128]
    return np.stack([rows * 2, cols * 2, (rows + cols) % 256]).astype(np.uint8)


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A 300 m synthetic region: a COG orthophoto and its XYZ pyramid (zooms 16-17), ~1 s."""
    from rsvl.synth import generate_region

    return generate_region(tmp_path_factory.mktemp("region"), seed=0, size_m=300.0, tiles=True)


@pytest.fixture(scope="session")
def region_server(region: Any) -> Iterator[Any]:
    """A loopback HTTP server (tests/imagery/loopback.py) of the region's folder."""
    loopback = _load_loopback()
    with loopback.serve(region.out_dir) as server:
        yield server


@pytest.fixture
def server(region_server: Any) -> Iterator[Any]:
    """The region's server with no failures injected and fresh GET counts."""
    region_server.configure(fail_first=0, fail_status=503, retry_after=None, hidden=[])
    yield region_server


def _load_loopback() -> Any:
    # Test folders are not packages: load the helper module by path (tests/build uses it too).
    spec = importlib.util.spec_from_file_location("loopback", Path(__file__).with_name(
        "loopback.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def serve_folder() -> Callable[[Path], Any]:
    """``with serve_folder(root) as server:`` a loopback HTTP server of any folder."""
    return _load_loopback().serve  # type: ignore[no-any-return]
