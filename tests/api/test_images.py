"""Every image input kind becomes an RGB PIL image; every wrong one fails in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rsvl.api.images import GeoWindow, array_to_pil, describe, iter_images, to_pil
from rsvl.errors import InputError
from rsvl.imagery.chip import Chip


def _one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


def test_pil_modes_become_rgb() -> None:
    for mode in ("RGBA", "L", "P", "RGB"):
        image = to_pil(Image.new(mode, (5, 4)))
        assert image.mode == "RGB" and image.size == (5, 4)
    sixteen = Image.fromarray(np.arange(20, dtype=np.uint16).reshape(4, 5) * 1000)
    pixels = np.asarray(to_pil(sixteen))
    assert pixels.shape == (4, 5, 3) and pixels[0, 0, 0] == 0 and pixels[-1, -1, 0] == 255


def test_paths_jpeg_png_tiff(image_folder: Path) -> None:
    for name in ("a.jpg", "b.png", "c.tif"):
        image = to_pil(image_folder / name)
        assert image.mode == "RGB" and image.size == (30, 24)
    assert np.asarray(to_pil(str(image_folder / "b.png")))[0, 0, 0] < 60  # first colour is dark red


def test_arrays_hwc_chw_grey_float_and_16bit() -> None:
    hwc = np.zeros((6, 8, 3), dtype=np.uint8)
    hwc[..., 0] = 200
    assert np.asarray(to_pil(hwc))[0, 0].tolist() == [200, 0, 0]
    chw = np.moveaxis(hwc, -1, 0)
    assert np.asarray(to_pil(chw)).shape == (6, 8, 3)
    assert np.asarray(to_pil(np.full((4, 4), 7, np.uint8)))[0, 0].tolist() == [7, 7, 7]
    assert np.asarray(to_pil(np.full((4, 4, 3), 0.5, np.float32)))[0, 0, 0] == 128
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    assert to_pil(rgba).mode == "RGB"
    ramp = np.linspace(0, 10000, 300, dtype=np.float64).astype(np.uint16).reshape(10, 10, 3)
    stretched = np.asarray(to_pil(ramp))
    assert stretched.min() == 0 and stretched.max() == 255  # 2-98 % percentile stretch


def test_tensors_chw_and_batches() -> None:
    tensor = torch.zeros(3, 5, 7)
    tensor[1] = 1.0
    assert np.asarray(to_pil(tensor))[0, 0].tolist() == [0, 255, 0]
    batch = torch.rand(4, 3, 8, 8)
    assert len(list(iter_images(batch))) == 4
    assert len(list(iter_images(np.zeros((2, 8, 8, 3), np.uint8)))) == 2


def test_chip_and_geowindow_with_bands_and_stretch(geotiff16: Path) -> None:
    chip = Chip(np.full((3, 3, 3), 9, np.uint8), np.ones((3, 3), bool), (0, 0, 1, 1),
                "EPSG:3857", 1.0)
    assert np.asarray(to_pil(chip))[0, 0, 0] == 9
    window = GeoWindow(geotiff16, bounds=(500000, 4499680, 500320, 4500000), bands=(4, 3, 2),
                       size=32)
    image = to_pil(window)
    assert image.size == (32, 32)
    assert np.asarray(image).std() > 10  # 16-bit values were stretched, not clipped to black
    fixed = np.asarray(GeoWindow(geotiff16, bands=(1,), stretch=(0, 1_000_000), size=16)
                       .read().rgb)
    assert fixed.max() <= 2  # a fixed range far above the data keeps it dark
    assert to_pil(geotiff16).size == (256, 256)  # a GeoTIFF path goes through rsvl.imagery


def test_shared_cog_window(shared_data: Path) -> None:
    cog = shared_data / "imagery" / "cogeo.tif"
    from rsvl.imagery import open_imagery

    with open_imagery(cog) as imagery:
        minx, miny, maxx, maxy = imagery.bounds
    window = GeoWindow(cog, bounds=(minx, miny, (minx + maxx) / 2, (miny + maxy) / 2), size=64)
    assert np.asarray(to_pil(window)).mean() > 20
    assert describe(window, 0).startswith(str(cog))


@pytest.mark.parametrize("bad, expected", [
    (42, "unsupported image input of type int"),
    (np.zeros((8, 8, 7), np.uint8), "no 1, 3 or 4 channel axis"),
    (np.zeros((2, 2, 4, 4, 3), np.uint8), "has shape"),
    (np.zeros((4, 4, 3), bool), "dtype bool"),
])
def test_wrong_inputs_one_line(bad: object, expected: str) -> None:
    with pytest.raises(InputError) as error:
        to_pil(bad)
    assert expected in _one_line(error)


def test_wrong_paths_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    for path, expected in [(tmp_path / "missing.png", "image not found"),
                           (tmp_path, "is a folder"), (broken, "not a readable image")]:
        with pytest.raises(InputError) as error:
            to_pil(path)
        assert expected in _one_line(error)
    with pytest.raises(InputError, match="no images given"):
        list(iter_images([]))
    with pytest.raises(InputError, match="ImageIndex.from_folder"):
        list(iter_images(tmp_path))


def test_array_to_pil_channels_first_flag() -> None:
    ambiguous = np.zeros((3, 5, 3), dtype=np.uint8)
    ambiguous[0] = 255  # first row when HWC, red plane when CHW
    assert array_to_pil(ambiguous, channels_first=True).size == (3, 5)
    assert array_to_pil(ambiguous, channels_first=False).size == (5, 3)
