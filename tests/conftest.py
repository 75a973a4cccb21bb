"""Shared test fixtures: offline hubs, the real data folder, the built-in region."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PIL import Image

if TYPE_CHECKING:
    from rsvl.builders.vqa import VqaBuildConfig, VqaBuildResult

# Set before any hub client is imported: an online lookup waits ~47 s before failing here.
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RSVL_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder ``../shared/data``; tests using it skip when it is absent."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real test data not found at {SHARED_DATA} (set RSVL_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The committed tiny fixtures under ``tests/data``."""
    return TEST_DATA


# The VQA fixtures (builder and evaluator tests share them).

REGION_SIZE_M = 1000.0
CHIP_PX = 64  # 64 m chips at the region's 1 m/px


@pytest.fixture(scope="session")
def vqa_region(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The built-in synthetic region, 1 km square (seed 0, no tiles)."""
    from rsvl.synth import generate_region

    return generate_region(tmp_path_factory.mktemp("region"), seed=0, size_m=REGION_SIZE_M,
                           tiles=False)


def region_config(region: Any, out: Path, **changes: Any) -> VqaBuildConfig:
    """The tests' build settings: 64 px chips, 250 m split cells, a large test split."""
    from rsvl.builders.splits import SplitRule
    from rsvl.builders.vqa import VqaBuildConfig

    settings: dict[str, Any] = {"chip_size": CHIP_PX,
                                "split": SplitRule(cell_m=250.0, fractions=(0.6, 0.1, 0.3)),
                                **changes}
    return VqaBuildConfig(osm=str(region.osm_path), imagery=str(region.orthophoto_path),
                          out=str(out), licence="CC0-1.0", **settings)


@pytest.fixture(scope="session")
def vqa_make_config() -> Callable[..., VqaBuildConfig]:
    """Factory: ``make_config(region, out, **changes)`` with the tests' build settings."""
    return region_config


@pytest.fixture(scope="session")
def vqa_built(vqa_region: Any, tmp_path_factory: pytest.TempPathFactory) -> VqaBuildResult:
    """The region's question set in the RSVQA layout."""
    from rsvl.builders.vqa import build_vqa

    return build_vqa(region_config(vqa_region, tmp_path_factory.mktemp("vqa")), command=["test"])


@pytest.fixture(scope="session")
def vqa_tiny_model() -> Any:
    """``rsvl-micro`` with seeded random weights (a stable checksum)."""
    import torch

    from rsvl.models import load_clip

    torch.manual_seed(0)
    return load_clip("rsvl-micro", device="cpu")


# Small synthetic aerial-looking scenes (data and builder tests).
def make_scene(seed: int, size: int = 96) -> Image.Image:
    """A smooth random colour field with fine noise: distinct seeds give distinct scenes."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC))
    noisy = field.astype(int) + rng.integers(-20, 21, (size, size, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


@pytest.fixture(scope="session")
def scene() -> Callable[..., Image.Image]:
    """:func:`make_scene`, as a fixture."""
    return make_scene
