"""A small synthetic region shared by the synth tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvl.synth import RegionInfo, generate_region

SMALL_SIZE_M = 600.0
SMALL_SEED = 0


@pytest.fixture(scope="session")
def small_region(tmp_path_factory: pytest.TempPathFactory) -> RegionInfo:
    """A 600 m region at 1 m/px with tiles (about 4 s to generate)."""
    out: Path = tmp_path_factory.mktemp("region")
    return generate_region(out, seed=SMALL_SEED, size_m=SMALL_SIZE_M, tiles=True)
