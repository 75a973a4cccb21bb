"""Fixtures of the VQA tests: a small synthetic region, its question set, a tiny model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rsvl.vqa.build import VqaBuildConfig, VqaBuildResult

REGION_SIZE_M = 1000.0
CHIP_PX = 64  # 64 m chips at the region's 1 m/px


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The built-in synthetic region, 1 km square (seed 0, no tiles)."""
    from rsvl.synth import generate_region

    return generate_region(tmp_path_factory.mktemp("region"), seed=0, size_m=REGION_SIZE_M,
                           tiles=False)


def region_config(region: Any, out: Path, **changes: Any) -> VqaBuildConfig:
    """The tests' build settings: 64 px chips, 250 m split cells, a large test split."""
    settings: dict[str, Any] = {"chip_size": CHIP_PX, "split_cell_m": 250.0,
                                "split_fractions": (0.6, 0.1, 0.3), **changes}
    return VqaBuildConfig(osm=str(region.osm_path), imagery=str(region.orthophoto_path),
                          out=str(out), licence="CC0-1.0", **settings)


@pytest.fixture(scope="session")
def make_config() -> Callable[..., VqaBuildConfig]:
    """Factory: ``make_config(region, out, **changes)`` with the tests' build settings."""
    return region_config


@pytest.fixture(scope="session")
def built(region: Any, tmp_path_factory: pytest.TempPathFactory) -> VqaBuildResult:
    """The region's question set in the RSVQA layout."""
    from rsvl.vqa.build import build_vqa

    return build_vqa(region_config(region, tmp_path_factory.mktemp("vqa")), command=["test"])


@pytest.fixture(scope="session")
def tiny_model() -> Any:
    """``rsvl-micro`` with seeded random weights (a stable checksum)."""
    import torch

    from rsvl.models import load_clip

    torch.manual_seed(0)
    return load_clip("rsvl-micro", device="cpu")
