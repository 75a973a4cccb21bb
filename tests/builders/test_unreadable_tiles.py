"""Builds over real tiles with one corrupt: its chips are skipped and counted, or --strict stops."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from rsvl.builders.captions import CaptionBuildConfig, build_captions
from rsvl.builders.vqa import VqaBuildConfig, build_vqa
from rsvl.cli import main
from rsvl.imagery.base import UnreadableImagery

CORRUPT = Path("17", "62093", "50163.jpg")  # the centre tile of the Sintra 3 x 3


@pytest.fixture
def sintra(shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the Sintra tiles with the centre tile truncated, and the OSM features."""
    tiles = tmp_path / "tiles"
    shutil.copytree(shared_data / "sintra" / "tiles", tiles)
    (tiles / CORRUPT).write_bytes((tiles / CORRUPT).read_bytes()[:300])  # a cut-off JPEG
    return tiles, shared_data / "sintra" / "osm_features.geojson"


def test_corrupt_tile_is_skipped_and_counted(sintra: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    tiles, osm = sintra
    result = build_captions(CaptionBuildConfig(osm=str(osm), imagery=str(tiles),
                                               out=str(tmp_path / "out")))
    skipped = result.rejected["unreadable_tile"]
    assert skipped > 0 and result.records  # the chips clear of the tile are kept
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rejected"]["unreadable_tile"] == skipped
    assert f"unreadable_tile {skipped}" in result.summary()
    # Strict: the first unreadable chip stops the build, one line naming the tile.
    with pytest.raises(UnreadableImagery, match=r"tiles: tile z/x/y=17/62093/50163 is not a "
                       r"readable image .*--strict") as caught:
        build_captions(CaptionBuildConfig(osm=str(osm), imagery=str(tiles),
                                          out=str(tmp_path / "strict"), strict=True))
    assert "\n" not in str(caught.value)
    # The same from the command line: exit status 2 and the one line.
    assert main(["build", "captions", "--osm", str(osm), "--imagery", str(tiles), "--out",
                 str(tmp_path / "cli"), "--strict"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("rsvl build: error: ") and "17/62093/50163" in error


def test_vqa_build_skips_and_counts_too(sintra: tuple[Path, Path], tmp_path: Path) -> None:
    tiles, osm = sintra
    config = VqaBuildConfig(osm=str(osm), imagery=str(tiles), out=str(tmp_path / "vqa"),
                            chip_size=128)
    result = build_vqa(config)
    assert result.rejected["unreadable_tile"] > 0 and any(result.images.values())
    assert "unreadable_tile" in json.loads((tmp_path / "vqa" / "manifest.json").read_text())[
        "rejected"]
    with pytest.raises(UnreadableImagery, match="17/62093/50163"):
        build_vqa(dataclasses.replace(config, out=str(tmp_path / "strict"), strict=True))
