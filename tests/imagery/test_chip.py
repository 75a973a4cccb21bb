"""Chip helpers: valid fraction, PIL conversion and encoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rsvl.errors import ConfigError
from rsvl.imagery.chip import Chip


def _chip() -> Chip:
    rgb = np.zeros((4, 8, 3), dtype=np.uint8)
    rgb[:, :, 0] = 200
    valid = np.ones((4, 8), dtype=bool)
    valid[:, :2] = False
    return Chip(rgb=rgb, valid=valid, bounds=(0, 0, 8, 4), crs="EPSG:32633", gsd_m=1.0)


def test_valid_fraction_and_size() -> None:
    chip = _chip()
    assert chip.valid_fraction == 0.75 and chip.size == (8, 4)
    assert chip.to_pil().size == (8, 4)


def test_png_round_trip_is_lossless_and_jpeg_decodes() -> None:
    chip = _chip()
    decoded = np.asarray(Image.open(io.BytesIO(chip.encode("png"))))
    np.testing.assert_array_equal(decoded, chip.rgb)
    jpeg = Image.open(io.BytesIO(chip.encode("jpeg", quality=95)))
    assert jpeg.format == "JPEG" and jpeg.size == (8, 4)
    assert abs(int(np.asarray(jpeg)[..., 0].mean()) - 200) < 5


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown chip format 'gif'"):
        _chip().encode("gif")
