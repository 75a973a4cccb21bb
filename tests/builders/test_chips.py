"""Chip framing (resolution chosen to show the object) and pixel rejections."""

from __future__ import annotations

import numpy as np
import pytest

from rsvl.builders.chips import (
    BLANK,
    CROSSES_EDGE,
    MOSTLY_NODATA,
    TOO_LARGE,
    TOO_SMALL,
    ChipRejected,
    ChipRule,
    check_pixels,
    chip_path,
    fit_inside,
    frame_chip,
)
from rsvl.errors import ConfigError

RULE = ChipRule(chip_size=100, margin=0.25, min_object_px=4, max_gsd_factor=4)


def test_small_object_framed_at_native_resolution() -> None:
    # 20 m object at 1 m/px: 20 * 1.5 / 100 = 0.3 < 1, so native resolution: a 100 m chip.
    assert frame_chip((10.0, 20.0, 30.0, 30.0), 1.0, RULE) == (-30.0, -25.0, 70.0, 75.0)


def test_large_object_zoomed_out_to_fit_with_margin() -> None:
    # 200 m object: 200 * 1.5 / 100 = 3 m/px, a 300 m chip centred on the object.
    assert frame_chip((0.0, 0.0, 200.0, 50.0), 1.0, RULE) == (-50.0, -125.0, 250.0, 175.0)


def test_too_small_and_too_large() -> None:
    with pytest.raises(ChipRejected) as small:
        frame_chip((0.0, 0.0, 3.0, 3.0), 1.0, RULE)
    assert small.value.reason == TOO_SMALL
    with pytest.raises(ChipRejected) as large:
        frame_chip((0.0, 0.0, 300.0, 10.0), 1.0, RULE)  # needs 4.5 m/px > 4 x native
    assert large.value.reason == TOO_LARGE


def test_point_gets_point_extent() -> None:
    rule = ChipRule(chip_size=100, margin=0.0, point_extent=10.0)
    assert frame_chip((5.0, 5.0, 5.0, 5.0), 1.0, rule) == (-45.0, -45.0, 55.0, 55.0)


def test_chip_near_the_edge_shifted_inside_or_rejected() -> None:
    imagery = (0.0, 0.0, 100.0, 100.0)
    assert fit_inside((-10.0, 0.0, 30.0, 40.0), (2.0, 5.0, 20.0, 30.0), imagery) == (
        0.0, 0.0, 40.0, 40.0)
    assert fit_inside((80.0, 70.0, 110.0, 105.0), (85.0, 75.0, 95.0, 95.0), imagery) == (
        70.0, 65.0, 100.0, 100.0)
    for chip, focus in [((-10.0, 0.0, 30.0, 40.0), (-5.0, 5.0, 20.0, 30.0)),  # object outside
                        ((-10.0, 0.0, 120.0, 40.0), (2.0, 5.0, 20.0, 30.0))]:  # chip too wide
        with pytest.raises(ChipRejected) as crossing:
            fit_inside(chip, focus, imagery)
        assert crossing.value.reason == CROSSES_EDGE


def test_pixel_checks() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    valid = np.ones((16, 16), bool)
    check_pixels(rgb, valid, RULE)
    valid[:, :4] = False
    with pytest.raises(ChipRejected) as nodata:
        check_pixels(rgb, valid, RULE)
    assert nodata.value.reason == MOSTLY_NODATA
    with pytest.raises(ChipRejected) as blank:
        check_pixels(np.full((16, 16, 3), 120, np.uint8), np.ones((16, 16), bool), RULE)
    assert blank.value.reason == BLANK


def _is_blank(rgb: np.ndarray) -> bool:
    try:
        check_pixels(rgb, np.ones(rgb.shape[:2], bool), RULE)
    except ChipRejected as rejection:
        return rejection.reason == BLANK
    return False


def test_blank_check_agrees_with_numpy_std_at_the_threshold() -> None:
    # Sampled pixels 118/122 (std exactly 2.0, not below the 2.0 threshold), then with one
    # sampled value moved closer to the mean (std just below): the exact integer path must
    # give numpy's answer on both sides.
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[::2, ::2] = np.where(np.arange(8)[:, None, None] % 2, 118, 122)
    assert float(rgb[::2, ::2].std()) == 2.0 and not _is_blank(rgb)
    rgb[0, 0, 0] = 121
    assert float(rgb[::2, ::2].std()) < 2.0 and _is_blank(rgb)
    rng = np.random.default_rng(3)
    for spread in (1, 2, 3, 4):
        noisy = (120 + rng.integers(-spread, spread + 1, (16, 16, 3))).astype(np.uint8)
        assert _is_blank(noisy) == (float(noisy[::2, ::2].std()) < RULE.min_pixel_std)


def test_chip_path_is_bucketed_and_stable() -> None:
    path = chip_path("osm-way-1", "jpg")
    assert path.startswith("chips/") and path.endswith("/osm-way-1.jpg")
    assert len(path.split("/")[1]) == 2 and path == chip_path("osm-way-1", "jpg")


def test_bad_rule() -> None:
    with pytest.raises(ConfigError, match="chip rule"):
        ChipRule(chip_size=4)
    with pytest.raises(ConfigError, match="format"):
        ChipRule(image_format="tif")
