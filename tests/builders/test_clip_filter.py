"""The optional CLIP-score filter, with a tiny from-scratch model (no weights download)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rsvl.builders.captions import CaptionBuildConfig, build_captions
from rsvl.builders.chips import ChipRule
from rsvl.builders.clip_filter import clip_scores
from rsvl.builders.settings import SplitRule
from rsvl.data.records import Record


@pytest.mark.slow
def test_scores_and_the_filtered_build(tiny_scene: tuple[Path, Path], tmp_path: Path,
                                       make_dataset: Callable[..., list[Record]]) -> None:
    records = make_dataset(tmp_path / "fixture", 4)
    scores = clip_scores(tmp_path / "fixture", records, "rsvl-micro", device="cpu")
    assert len(scores) == 4 and len(set(scores)) == 4
    assert all(-1.0 <= s <= 1.0 for s in scores)
    osm, ortho = tiny_scene
    config = CaptionBuildConfig(
        osm=str(osm), imagery=str(ortho), out=str(tmp_path / "out"),
        split=SplitRule(cell_m=1e6),
        rule=ChipRule(chip_size=64, min_object_px=4, max_gsd_factor=4),
        clip_filter="rsvl-micro", keep_top=0.5)
    result = build_captions(config)
    assert len(result.records) == 2 and result.rejected["clip_score_below_cut"] == 2
    assert len(list((tmp_path / "out" / "chips").rglob("*.jpg"))) == 2
    first = (tmp_path / "out" / "records.jsonl").read_bytes()
    # A rerun resumes from the remembered scores (the dropped chips are gone).
    build_captions(config)
    assert (tmp_path / "out" / "records.jsonl").read_bytes() == first
