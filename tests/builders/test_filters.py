"""Near-duplicate removal and the top-fraction cut of the CLIP-score filter."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from rsvl.builders.filters import (
    CLIP_FILTERED,
    DUPLICATE_FOOTPRINT,
    DUPLICATE_PIXELS,
    keep_top_fraction,
    remove_near_duplicates,
)
from rsvl.data.records import Record
from rsvl.errors import ConfigError


def test_overlapping_and_identical_chips_removed(
        tmp_path: Path, make_dataset: Callable[..., list[Record]]) -> None:
    records = make_dataset(tmp_path, 4)
    shifted = dataclasses.replace(records[1], key="shifted", footprint=[
        records[1].footprint[0] + 5, records[1].footprint[1], records[1].footprint[2] + 5,
        records[1].footprint[3]], extra={})  # IoU 45/55 = 0.82
    same_pixels = dataclasses.replace(records[2], key="copy", footprint=[0, 0, 1, 1])
    other_crs = dataclasses.replace(shifted, key="other-crs", crs="EPSG:32630")
    kept, dropped = remove_near_duplicates(
        [*records, shifted, same_pixels, other_crs], max_iou=0.7)
    assert [r.key for r in kept] == [r.key for r in records] + ["other-crs"]
    assert dropped == {"shifted": DUPLICATE_FOOTPRINT, "copy": DUPLICATE_PIXELS}
    kept, dropped = remove_near_duplicates([*records, shifted], max_iou=0.9)
    assert not dropped


def test_keep_top_fraction(tmp_path: Path, make_dataset: Callable[..., list[Record]]) -> None:
    records = make_dataset(tmp_path, 4)
    kept, dropped = keep_top_fraction(records, [0.1, 0.9, 0.5, 0.5], 0.5)
    assert [r.key for r in kept] == ["fixture-way-1", "fixture-way-2"]  # tie broken by key
    assert dropped == {"fixture-way-0": CLIP_FILTERED, "fixture-way-3": CLIP_FILTERED}
    with pytest.raises(ConfigError, match="keep-top"):
        keep_top_fraction(records, [0.0] * 4, 1.5)

