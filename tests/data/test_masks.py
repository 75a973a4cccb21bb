"""Region-mask PNGs: rsvl writes them itself; PIL and GDAL must read back the same pixels."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from rsvl.data.masks import decode_mask, encode_mask


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # a bare PNG
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (5, 8), (9, 9), (17, 130), (300, 2)])
def test_mask_png_reads_back_the_same_pixels_in_pil_and_gdal(shape: tuple[int, int],
                                                             tmp_path: Path) -> None:
    mask = np.random.default_rng(sum(shape)).random(shape) < 0.4
    png = base64.b64decode(encode_mask(mask))
    path = tmp_path / "mask.png"
    path.write_bytes(png)
    with Image.open(path) as image:
        assert (image.mode, image.size) == ("1", (shape[1], shape[0]))
        assert (np.asarray(image, dtype=bool) == mask).all()
    with rasterio.open(path) as raster:
        assert (raster.read(1).astype(bool) == mask).all()
    assert (decode_mask(encode_mask(mask), shape) == mask).all()


def test_a_mask_that_is_all_inside_or_all_outside_round_trips() -> None:
    for value in (True, False):
        mask = np.full((12, 20), value)
        assert (decode_mask(encode_mask(mask), (12, 20)) == mask).all()
