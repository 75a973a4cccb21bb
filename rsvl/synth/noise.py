"""Deterministic noise for procedural textures: smooth value noise and integer hashing."""

from __future__ import annotations

import numpy as np
from PIL import Image

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def value_noise(
    rng: np.random.Generator, shape: tuple[int, int], scale_px: float, octaves: int = 3
) -> np.ndarray:
    """Smooth fractal noise of unit standard deviation (float32).

    Args:
        rng: the source of randomness (consumed deterministically).
        shape: (rows, cols) of the field.
        scale_px: size in pixels of the coarsest features.
        octaves: number of halvings of the scale summed with halving amplitude.
    """
    rows, cols = shape
    field = np.zeros(shape, np.float32)
    for octave in range(octaves):
        step = max(scale_px / 2**octave, 1.0)
        coarse_shape = (int(rows / step) + 3, int(cols / step) + 3)
        coarse = rng.standard_normal(coarse_shape).astype(np.float32)
        size = (int(round(coarse_shape[1] * step)), int(round(coarse_shape[0] * step)))
        # PIL's bilinear resize of a float image: far faster than scipy.ndimage.zoom here.
        fine = np.asarray(Image.fromarray(coarse, mode="F").resize(size, Image.Resampling.BILINEAR))
        field += fine[:rows, :cols] / 2**octave
    return (field - field.mean()) / (field.std() + 1e-6)


def hash01(*keys: np.ndarray, salt: int) -> np.ndarray:
    """A uniform number in [0, 1) for every tuple of integer ``keys`` (splitmix64 mixing)."""
    state = np.full(np.shape(keys[0]), (salt * _GOLDEN) & _MASK64, dtype=np.uint64)
    for key in keys:
        state ^= np.asarray(key).astype(np.int64).astype(np.uint64)
        state *= _MIX1
        state ^= state >> np.uint64(31)
        state *= _MIX2
        state ^= state >> np.uint64(29)
    return (state >> np.uint64(11)).astype(np.float64) * 2.0**-53
