"""Chip framing and rejection: one square chip per focus object, at a resolution that shows it.

All lengths here are in the imagery CRS's units (metres for UTM, Web Mercator metres for tile
pyramids); the ratios that decide framing do not depend on the unit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from rsvl.errors import ConfigError

Bounds = tuple[float, float, float, float]

# Why a focus object got no chip; the manifest counts each reason.
TOO_SMALL = "too_small"
TOO_LARGE = "too_large"
OUTSIDE_IMAGERY = "outside_imagery"
CROSSES_EDGE = "crosses_imagery_edge"
MOSTLY_NODATA = "mostly_nodata"
BLANK = "blank"


class ChipRejected(Exception):
    """A focus object or chip that does not make a usable sample; ``reason`` names why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ChipRule:
    """How chips are framed and which are rejected.

    Attributes:
        chip_size: Chip side in pixels.
        margin: Space around the object on each side, as a fraction of its extent.
        min_object_px: Objects smaller than this many native pixels are too small to see.
        max_gsd_factor: Objects needing a chip resolution coarser than this many times the
            native resolution are too large.
        point_extent: Extent given to point objects (nodes), in imagery CRS units.
        min_valid_fraction: Chips with less valid (not nodata) area are rejected.
        min_pixel_std: Chips whose pixel standard deviation is lower are blank.
        image_format: ``jpg`` or ``png``.
    """

    chip_size: int = 224
    margin: float = 0.2
    min_object_px: float = 8.0
    max_gsd_factor: float = 8.0
    point_extent: float = 24.0
    min_valid_fraction: float = 0.98
    min_pixel_std: float = 2.0
    image_format: str = "jpg"

    def __post_init__(self) -> None:
        if self.chip_size < 8 or self.margin < 0 or self.max_gsd_factor < 1:
            raise ConfigError(
                f"chip rule {self} is invalid: need chip_size >= 8, margin >= 0 and "
                "max_gsd_factor >= 1"
            )
        if self.image_format not in ("jpg", "png"):
            raise ConfigError(f"chip format {self.image_format!r} unknown; use jpg or png")


def frame_chip(object_bounds: Bounds, native_res: float, rule: ChipRule) -> Bounds:
    """The square chip footprint around an object, centred on it, with the rule's margin.

    The chip resolution is ``max(native_res, extent * (1 + 2 * margin) / chip_size)`` where
    ``extent`` is the object's larger side, so a small object is shown at native resolution
    and a large one is zoomed out until it fits.

    Args:
        object_bounds: The object's footprint bounds in the imagery CRS.
        native_res: The imagery's native pixel size in CRS units.
        rule: Framing thresholds.

    Returns:
        ``(minx, miny, maxx, maxy)`` of the chip, a square of ``chip_size`` chip pixels.

    Raises:
        ChipRejected: ``too_small`` or ``too_large``.
    """
    minx, miny, maxx, maxy = object_bounds
    extent = max(maxx - minx, maxy - miny) or rule.point_extent
    if extent / native_res < rule.min_object_px:
        raise ChipRejected(TOO_SMALL)
    resolution = max(native_res, extent * (1 + 2 * rule.margin) / rule.chip_size)
    if resolution > rule.max_gsd_factor * native_res:
        raise ChipRejected(TOO_LARGE)
    half = resolution * rule.chip_size / 2
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    return (cx - half, cy - half, cx + half, cy + half)


def fit_inside(chip_bounds: Bounds, object_bounds: Bounds, imagery_bounds: Bounds) -> Bounds:
    """Shift a chip that reaches beyond the imagery back inside, if the object stays in it.

    Near the imagery's edge the object is then off-centre but whole; an object that itself
    reaches beyond the imagery (or a chip wider than the imagery) is rejected.

    Raises:
        ChipRejected: ``crosses_imagery_edge``.
    """
    fitted = list(chip_bounds)
    for axis in (0, 1):
        low, high = chip_bounds[axis], chip_bounds[axis + 2]
        shift = max(0.0, imagery_bounds[axis] - low) + min(0.0, imagery_bounds[axis + 2] - high)
        fitted[axis], fitted[axis + 2] = low + shift, high + shift
        if (fitted[axis] < imagery_bounds[axis] or fitted[axis + 2] > imagery_bounds[axis + 2]
                or object_bounds[axis] < fitted[axis]
                or object_bounds[axis + 2] > fitted[axis + 2]):
            raise ChipRejected(CROSSES_EDGE)
    return (fitted[0], fitted[1], fitted[2], fitted[3])


def check_pixels(rgb: np.ndarray, valid: np.ndarray, rule: ChipRule) -> None:
    """Reject mostly-nodata chips and blank (near-constant) chips.

    Raises:
        ChipRejected: ``mostly_nodata`` or ``blank``.
    """
    # The count divided by the size is the mean of the mask, bit for bit, at a fifth the cost.
    valid_fraction = np.count_nonzero(valid) / valid.size if valid.size else 0.0
    if valid_fraction < rule.min_valid_fraction:
        raise ChipRejected(MOSTLY_NODATA)
    # Every other pixel tells a blank chip from a textured one at a quarter of the cost.
    sample, sample_valid = rgb[::2, ::2], valid[::2, ::2]
    pixels = sample if valid_fraction == 1.0 else sample[sample_valid]
    if _std_below(pixels, rule.min_pixel_std):
        raise ChipRejected(BLANK)


def _std_below(pixels: np.ndarray, threshold: float) -> bool:
    """Whether ``float(pixels.std()) < threshold``, from exact integer sums where that is sure.

    Integer pixel sums give the exact variance at half the cost of ``ndarray.std``; a variance
    within a millionth of ``threshold ** 2`` (where the rounding of ``std`` could matter) and
    the degenerate cases are decided by ``std`` itself, so the answer never differs.
    """
    if pixels.size == 0 or threshold <= 0 or pixels.dtype.kind not in "ub":
        return float(pixels.std()) < threshold
    values = pixels.astype(np.int64).ravel()
    total, squares = int(values.sum()), int(values @ values)
    variance = (pixels.size * squares - total * total) / pixels.size**2
    limit = threshold * threshold
    if abs(variance - limit) > 1e-6 * limit:
        return variance < limit
    return float(pixels.std()) < threshold


def pixel_hash(rgb: np.ndarray) -> str:
    """A hash of the chip's pixels, to find chips with identical content."""
    return hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()


def chip_path(key: str, image_format: str) -> str:
    """The chip's image path relative to the dataset root: ``chips/xx/key.jpg``.

    ``xx`` (two hex digits of the key's hash) keeps folders small for millions of chips.
    """
    bucket = hashlib.sha1(key.encode()).hexdigest()[:2]
    return f"chips/{bucket}/{key}.{image_format}"
