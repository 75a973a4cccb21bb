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
from PIL import Image, ImageEnhance

from rsvl.training.config import AugmentConfig

# Rotations by 90/180/270 degrees and flips as lossless PIL transposes.
_ROTATIONS = (
    None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270
)
_RATIO = (3 / 4, 4 / 3)


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
        image = image.convert("RGB")
        box = _crop_box(image.size, self.augment.crop_scale, rng) if self.augment else None
        image = image.resize((self.size, self.size), Image.Resampling.BICUBIC, box=box)
        if self.augment:
            image = _geometric(image, self.augment, rng)
            image = _colour(image, self.augment, rng)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
        mean = torch.tensor(self.mean, dtype=torch.float32)[:, None, None]
        std = torch.tensor(self.std, dtype=torch.float32)[:, None, None]
        return (pixels - mean) / std


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


def _geometric(image: Image.Image, cfg: AugmentConfig, rng: random.Random) -> Image.Image:
    rotation = _ROTATIONS[rng.randrange(4)] if cfg.rotate90 else None
    if rotation is not None:
        image = image.transpose(rotation)
    if cfg.hflip and rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if cfg.vflip and rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return image


def _colour(image: Image.Image, cfg: AugmentConfig, rng: random.Random) -> Image.Image:
    strength = cfg.color_jitter
    if strength > 0:
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            image = enhancer(image).enhance(rng.uniform(max(0.0, 1 - strength), 1 + strength))
    if cfg.hue > 0:
        image = _shift_hue(image, rng.uniform(-cfg.hue, cfg.hue))
    return image


def _shift_hue(image: Image.Image, shift: float) -> Image.Image:
    """Rotate the hue by ``shift`` turns (-0.5..0.5) in HSV space."""
    hsv = np.array(image.convert("HSV"), dtype=np.uint8)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + int(round(shift * 255))) % 256
    return Image.fromarray(hsv, mode="HSV").convert("RGB")
