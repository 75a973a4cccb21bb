"""Tiny generated training data: coloured, textured squares whose captions name both.

Learning is checkable: a model that reads the captions can tell the 8 (colour, texture)
classes apart, so loss falls within a few dozen steps and zero-shot accuracy rises.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.data.records import Record
from rsvl.data.shards import ShardWriter

COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 200),
           "yellow": (220, 200, 40)}
TEXTURES = ("stripes", "plain")


def chip(colour: str, texture: str, rng: random.Random, size: int = 48) -> Image.Image:
    """A noisy square of ``colour``; ``stripes`` adds dark horizontal bands."""
    noise = np.random.default_rng(rng.randrange(2**32)).integers(-25, 25, (size, size, 3))
    pixels = np.clip(np.array(COLOURS[colour]) + noise, 0, 255)
    if texture == "stripes":
        pixels[::6] //= 3
        pixels[1::6] //= 3
    return Image.fromarray(pixels.astype(np.uint8))


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_colour_shards(
    shard_dir: Path, samples: int, per_shard: int, seed: int = 0, corrupt: tuple[int, ...] = (),
    test_every: int = 0, long_every: int = 0,
) -> list[str]:
    """Write ``samples`` chips into shards; indices in ``corrupt`` get undecodable image bytes,
    every ``test_every``-th chip is in the test split (the others in train); with
    ``long_every`` each chip but every ``long_every``-th has two long descriptions
    (``extra.long_captions``, as caption builds write them)."""
    rng = random.Random(seed)
    keys = []
    with ShardWriter(shard_dir, max_samples=per_shard) as writer:
        for index in range(samples):
            colour, texture = rng.choice(list(COLOURS)), rng.choice(TEXTURES)
            key = f"chip{index:04d}"
            long = [f"A long view of {colour} {texture}. It fills the chip.",
                    f"A long look at {texture} in {colour}."]
            record = Record(
                key=key, image=f"{key}.jpg", source="test", licence="CC0",
                split="test" if test_every and index % test_every == 0 else "train",
                captions=[f"a satellite image of {colour} {texture}", f"{colour} {texture}"],
                extra={"long_captions": long} if long_every and index % long_every else {},
            )
            data = b"not a jpeg" if index in corrupt else jpeg(chip(colour, texture, rng))
            writer.write(record, data)
            keys.append(key)
    return keys


def write_class_folder(root: Path, per_class: int = 4, seed: int = 1) -> Path:
    """A class-folder validation set: one sub-folder per (colour, texture) class."""
    rng = random.Random(seed)
    for colour in COLOURS:
        for texture in TEXTURES:
            folder = root / f"{colour}_{texture}"
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(per_class):
                chip(colour, texture, rng).save(folder / f"{index}.png")
    return root


@pytest.fixture
def colour_shards(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``colour_shards(samples=64, per_shard=16, corrupt=(), test_every=0,
    long_every=0)``."""

    def make(samples: int = 64, per_shard: int = 16, corrupt: tuple[int, ...] = (),
             test_every: int = 0, long_every: int = 0) -> Path:
        shard_dir = tmp_path / "shards"
        write_colour_shards(shard_dir, samples, per_shard, corrupt=corrupt,
                            test_every=test_every, long_every=long_every)
        return shard_dir

    return make


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """A small class-folder validation set (8 classes x 2 images)."""
    return write_class_folder(tmp_path / "val", per_class=2)


@pytest.fixture(scope="session")
def region_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic region's caption dataset (records.jsonl + shards of 16), as the demo's."""
    from rsvl.builders.captions import CaptionBuildConfig, build_captions
    from rsvl.builders.chips import ChipRule
    from rsvl.builders.settings import SplitRule
    from rsvl.synth import generate_region

    root = tmp_path_factory.mktemp("region")
    region = generate_region(root / "region", seed=0, size_m=1000, tiles=False)
    build_captions(CaptionBuildConfig(
        osm=str(region.osm_path), imagery=str(region.orthophoto_path), out=str(root / "data"),
        source="synthetic", licence="CC0-1.0", rule=ChipRule(chip_size=128),
        split=SplitRule(cell_m=400),
        partition_px=500, shard_size=16,
    ))
    return root / "data"
