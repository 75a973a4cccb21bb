"""Augmentations: seeded, shape-preserving, and off when configured off."""

from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image

from rsvl.training.augment import ImageTransform
from rsvl.training.config import AugmentConfig

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _image() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8))


def test_same_seed_same_augmentation_other_seed_differs() -> None:
    transform = ImageTransform(24, MEAN, STD, AugmentConfig())
    first = transform(_image(), random.Random("a"))
    assert first.shape == (3, 24, 24)
    assert torch.equal(first, transform(_image(), random.Random("a")))
    assert not torch.equal(first, transform(_image(), random.Random("b")))


def test_everything_off_is_the_plain_resize() -> None:
    off = AugmentConfig(rotate90=False, hflip=False, vflip=False, color_jitter=0.0, hue=0.0,
                        crop_scale=[1.0, 1.0])
    plain = ImageTransform(24, MEAN, STD)
    for seed in range(3):
        got = ImageTransform(24, MEAN, STD, off)(_image(), random.Random(seed))
        assert torch.equal(got, plain(_image(), random.Random(0)))


def test_rotation_only_permutes_pixels() -> None:
    rotate = AugmentConfig(hflip=False, vflip=False, color_jitter=0.0, hue=0.0,
                           crop_scale=[1.0, 1.0])
    plain = ImageTransform(24, MEAN, STD)(_image(), random.Random(0))
    outputs = {ImageTransform(24, MEAN, STD, rotate)(_image(), random.Random(s)) .sum().item()
               for s in range(8)}
    assert all(abs(total - plain.sum().item()) < 1e-2 for total in outputs)
