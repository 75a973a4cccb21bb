"""Mapping >8-bit or float pixel values to 8-bit with a rule recorded for the manifest.

The rule is a per-band linear map from ``[min, max]`` to ``[0, 255]`` (clipped). By default
``min``/``max`` are the 2nd and 98th percentiles of each band's valid pixels, computed once per
dataset from a decimated read; a fixed range can be given instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rsvl.errors import ConfigError

DEFAULT_PERCENTILES = (2.0, 98.0)


def percentile_rule(pixels: np.ndarray, valid: np.ndarray,
                    percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> dict[str, Any]:
    """A percentile stretch rule from a decimated read of every band.

    Args:
        pixels: ``bands x H x W`` array of the whole dataset at reduced resolution.
        valid: ``H x W`` bool mask of pixels with data.
        percentiles: Low and high percentiles mapped to 0 and 255.

    Returns:
        ``{"method": "percentile", "percentiles": [lo, hi], "min": [...], "max": [...]}``
        with one ``min``/``max`` per source band (band 1 first).
    """
    lows, highs = [], []
    for band in pixels:
        values = band[valid & np.isfinite(band)]
        lo, hi = np.percentile(values, percentiles) if values.size else (0.0, 1.0)
        lows.append(float(lo))
        highs.append(float(hi))
    return {"method": "percentile", "percentiles": [float(p) for p in percentiles],
            "min": lows, "max": highs}


def fixed_rule(value_range: Sequence[float], band_count: int) -> dict[str, Any]:
    """A stretch rule mapping the same ``(min, max)`` range of every band to 0-255."""
    if len(value_range) != 2 or not value_range[0] < value_range[1]:
        raise ConfigError(f"stretch range must be (min, max) with min < max, got {value_range!r}")
    lo, hi = float(value_range[0]), float(value_range[1])
    return {"method": "fixed", "min": [lo] * band_count, "max": [hi] * band_count}


def apply_rule(pixels: np.ndarray, rule: dict[str, Any], bands: Sequence[int]) -> np.ndarray:
    """Map ``pixels`` (``len(bands) x H x W``, source bands ``bands``, 1-based) to uint8."""
    lo = np.array([rule["min"][b - 1] for b in bands], dtype=np.float32)[:, None, None]
    hi = np.array([rule["max"][b - 1] for b in bands], dtype=np.float32)[:, None, None]
    scaled = (pixels.astype(np.float32) - lo) * (255.0 / np.maximum(hi - lo, 1e-12))
    return np.nan_to_num(np.clip(scaled, 0, 255), nan=0.0).round().astype(np.uint8)


def rule_for_bands(rule: dict[str, Any], bands: Sequence[int]) -> dict[str, Any]:
    """The rule restricted to the bands a chip used, as recorded in the chip."""
    return {**rule, "bands": list(bands), "min": [rule["min"][b - 1] for b in bands],
            "max": [rule["max"][b - 1] for b in bands]}
