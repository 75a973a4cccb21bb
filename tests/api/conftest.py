"""Fixtures for the API tests: one seeded tiny model, tiny images and a 16-bit GeoTIFF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.api import RsvlModel, load_model


@pytest.fixture(scope="session")
def micro_model() -> RsvlModel:
    """``rsvl-micro`` with seeded random weights (32-px input, 32-d embeddings)."""
    return load_model("rsvl-micro", device="cpu")


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    """Six small images of distinct colours, in JPEG, PNG and TIFF, one in a sub-folder."""
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = ["a.jpg", "b.png", "c.tif", "d.png", "sub/e.jpg", "sub/f.png"]
    for i, name in enumerate(names):
        base = np.array([40 * i, 255 - 40 * i, (90 * i) % 256], dtype=np.int16)
        pixels = np.clip(base + rng.integers(-20, 20, (24, 30, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def write_geotiff(path: Path, bands: int = 4, dtype: str = "uint16", size: int = 64,
                  crs: str = "EPSG:32633") -> Path:
    """A north-up GeoTIFF at 10 m/px with a smooth gradient per band."""
    import rasterio
    from rasterio.transform import from_origin

    rows, cols = np.mgrid[0:size, 0:size]
    data = np.stack([(rows * (b + 1) * 37 + cols * 11) % 4000 for b in range(bands)])
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=bands,
                       dtype=dtype, crs=crs, transform=from_origin(500000, 4500000, 10, 10)) as f:
        f.write(data.astype(dtype))
    return path


@pytest.fixture()
def geotiff16(tmp_path: Path) -> Path:
    """A 4-band 16-bit 64x64 GeoTIFF (640 m square) in UTM 33N."""
    return write_geotiff(tmp_path / "ms16.tif")


@pytest.fixture()
def make_geotiff():  # type: ignore[no-untyped-def]
    """The GeoTIFF writer, for tests that need other band counts, types or CRSs."""
    return write_geotiff
