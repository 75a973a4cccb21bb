"""Fixtures of the evaluation tests: a tiny random model and tiny generated image sets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.models import LoadedModel, load_clip


@pytest.fixture(scope="session")
def micro() -> LoadedModel:
    """``rsvl-micro`` from scratch, seed 0 (random weights: assert pipelines, not accuracy)."""
    import torch

    torch.manual_seed(0)
    return load_clip("rsvl-micro", device="cpu")


def write_image(path: Path, seed: int, size: int = 24) -> Path:
    """A small random RGB image; the format follows the suffix (JPEG, PNG, TIFF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def image_writer() -> Callable[..., Path]:
    """The :func:`write_image` helper (test modules cannot import conftest in importlib mode)."""
    return write_image


@pytest.fixture
def class_tree(tmp_path: Path) -> Path:
    """Three class folders (JPEG, PNG, TIFF), three images each; one JPEG is broken."""
    root = tmp_path / "scenes"
    for c, (name, suffix) in enumerate([("SeaLake", ".jpg"), ("golf_course", ".png"),
                                        ("railwaystation", ".tif")]):
        for i in range(3):
            write_image(root / name / f"{name}_{i}{suffix}", seed=10 * c + i)
    (root / "SeaLake" / "SeaLake_9.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return root


@pytest.fixture
def karpathy(tmp_path: Path) -> Path:
    """A Karpathy-style caption JSON: 4 test images (2 captions each), 1 train image."""
    images = []
    for i in range(5):
        write_image(tmp_path / "images" / f"im{i}.png", seed=100 + i)
        images.append({"filename": f"im{i}.png", "imgid": i, "split": "test" if i < 4 else "train",
                       "sentences": [{"raw": f"scene {i} caption {j}", "tokens": []}
                                     for j in range(2)]})
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"images": images}))
    return path
