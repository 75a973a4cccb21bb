"""Fixtures of the build tests: a tiny hand-made dataset (records + chip files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.build.chips import chip_path
from rsvl.data.records import SPLITS, Record


def _make_dataset(root: Path, count: int = 6) -> list[Record]:
    """``count`` records with 32 px JPEG chips, 100 m apart, splits cycling, varied tags."""
    rng = np.random.default_rng(0)
    tags = [{"landuse": "farmland"}, {"natural": "beach"}, {"highway": "track",
            "surface": "sand"}]
    records = []
    for index in range(count):
        key = f"fixture-way-{index}"
        image = chip_path(key, "jpg")
        (root / image).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / image)
        x = 500_000.0 + 100 * index
        records.append(Record(
            key=key, image=image, captions=[f"a satellite image of thing {index}",
                                            f"thing {index} seen from above"],
            split=SPLITS[index % 3], source="fixture", licence="test",
            osm_ids=[f"way/{index}"], tags=tags[index % 3],
            footprint=[x, 4_300_000.0, x + 50, 4_300_050.0], crs="EPSG:32629", gsd_m=1.5,
            extra={"pixel_sha256": f"{index:064x}"},
        ))
    return records


@pytest.fixture
def make_dataset() -> Callable[..., list[Record]]:
    """Factory: ``make_dataset(root, count)`` writes chips under root and returns records."""
    return _make_dataset
