"""Remote-sensing training augmentations, driven by an explicit per-sample random generator.

Every random choice comes from the ``random.Random`` passed in (seeded from the run seed, the
epoch and the sample key), never from global state, so a resumed run augments each sample
exactly as an uninterrupted one would, whatever the worker or process that decodes it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from rsvl.training.config import AugmentConfig

# Rotations by 90/180/270 degrees and flips as lossless PIL transposes.
_ROTATIONS = (
    None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270
)
_RATIO = (3 / 4, 4 / 3)
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Geometry:
    """Where an augmented image's pixels came from: the crop box in the source image's pixels
    (None: the whole image) and the lossless transposes applied after resizing, in order.

    :meth:`resample` applies the same to any other raster of the source image (a region mask),
    at any output size: region masks follow the image's augmentation exactly.
    """

    box: tuple[float, float, float, float] | None = None
    transposes: tuple[Image.Transpose, ...] = ()

    def resample(self, raster: Image.Image, size: int,
                 resample: Image.Resampling = Image.Resampling.BICUBIC) -> Image.Image:
        """``raster`` (the source image's size) cropped, resized to ``size`` and transposed."""
        raster = raster.resize((size, size), resample, box=self.box)
        for transpose in self.transposes:
            raster = raster.transpose(transpose)
        return raster


@dataclass(frozen=True)
class ImageTransform:
    """Turn a PIL image into a normalised tensor, optionally augmenting it.

    Args:
        size: Output side in pixels (square).
        mean: Per-channel normalisation mean.
        std: Per-channel normalisation std.
        augment: Augmentations; None gives the deterministic validation path (resize only).
    """

    size: int
    mean: Sequence[float]
    std: Sequence[float]
    augment: AugmentConfig | None = None

    def __call__(self, image: Image.Image, rng: random.Random) -> torch.Tensor:
        return self.apply(image, rng)[0]

    def apply(self, image: Image.Image, rng: random.Random) -> tuple[torch.Tensor, Geometry]:
        """The transformed image and the geometry it went through (the same random draws, in
        the same order, as ``__call__``)."""
        image = image.convert("RGB")
        geometry = _geometry(image.size, self.augment, rng) if self.augment else Geometry()
        pixels = np.asarray(geometry.resample(image, self.size), dtype=np.float32)
        pixels = pixels * np.float32(1 / 255)
        if self.augment:
            pixels = _colour(pixels, self.augment, rng)
        # Normalise in numpy (HWC broadcasting), then one CHW copy into torch.
        normed = (pixels - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return torch.from_numpy(np.ascontiguousarray(normed.transpose(2, 0, 1))), geometry


def _geometry(size: tuple[int, int], cfg: AugmentConfig, rng: random.Random) -> Geometry:
    """The random crop, then a rotation by a multiple of 90 degrees and the flips."""
    box = _crop_box(size, cfg.crop_scale, rng)
    rotation = _ROTATIONS[rng.randrange(4)] if cfg.rotate90 else None
    transposes = [rotation] if rotation is not None else []
    if cfg.hflip and rng.random() < 0.5:
        transposes.append(Image.Transpose.FLIP_LEFT_RIGHT)
    if cfg.vflip and rng.random() < 0.5:
        transposes.append(Image.Transpose.FLIP_TOP_BOTTOM)
    return Geometry(box, tuple(transposes))


def _crop_box(
    size: tuple[int, int], scale: Sequence[float], rng: random.Random
) -> tuple[float, float, float, float] | None:
    """A random resized crop box (torchvision's sampling: area in ``scale``, ratio 3/4-4/3)."""
    low, high = scale
    if low >= 1.0:
        return None
    width, height = size
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(low, high)
        ratio = math.exp(rng.uniform(math.log(_RATIO[0]), math.log(_RATIO[1])))
        w = math.sqrt(target * ratio)
        h = math.sqrt(target / ratio)
        if w <= width and h <= height:
            left = rng.uniform(0, width - w)
            top = rng.uniform(0, height - h)
            return (left, top, left + w, top + h)
    return None


def _colour(pixels: np.ndarray, cfg: AugmentConfig, rng: random.Random) -> np.ndarray:
    """Brightness, contrast and saturation jitter (PIL ``ImageEnhance`` semantics, in float),
    then hue, on an HWC array in 0..1."""
    strength = cfg.color_jitter
    if strength > 0:
        low, high = max(0.0, 1 - strength), 1 + strength
        # Brightness blends with black, contrast with the mean grey, saturation with the grey.
        pixels = np.clip(pixels * rng.uniform(low, high), 0, 1)
        pixels = np.clip(_blend(pixels, _grey(pixels).mean(), rng.uniform(low, high)), 0, 1)
        pixels = np.clip(_blend(pixels, _grey(pixels)[..., None], rng.uniform(low, high)), 0, 1)
    if cfg.hue > 0:
        pixels = _shift_hue(pixels, rng.uniform(-cfg.hue, cfg.hue))
    return pixels


def _grey(pixels: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma, as PIL's ``convert("L")``."""
    return pixels @ np.asarray(_LUMA, dtype=np.float32)


def _blend(pixels: np.ndarray, degenerate: np.ndarray | float, factor: float) -> np.ndarray:
    return degenerate + factor * (pixels - degenerate)


def _shift_hue(pixels: np.ndarray, shift: float) -> np.ndarray:
    """Rotate the hue by ``shift`` turns (-0.5..0.5) in HSV space."""
    image = Image.fromarray(np.round(pixels * 255).astype(np.uint8), mode="RGB")
    hsv = np.array(image.convert("HSV"), dtype=np.uint8)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + int(round(shift * 255))) % 256
    rgb = Image.fromarray(hsv, mode="HSV").convert("RGB")
    return np.asarray(rgb, dtype=np.float32) * (1 / 255)
