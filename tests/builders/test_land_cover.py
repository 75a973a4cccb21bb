"""Land-cover grid chips from the class raster: labels, purity, splits, broken raster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from rsvl.builders.land_cover import (
    SUMMARY_FILE,
    LandCoverRule,
    class_folder_names,
    majority_class,
    write_land_cover_set,
)
from rsvl.builders.splits import SplitRule, centre_splits, grid_boxes
from rsvl.cli import main
from rsvl.errors import InputError
from rsvl.synth import RegionInfo, generate_region, get_class


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> RegionInfo:
    return generate_region(tmp_path_factory.mktemp("region"), seed=3, size_m=600, tiles=False)


def test_majority_class_needs_the_share_and_never_picks_nodata() -> None:
    labels = np.array([[2, 2, 2, 3], [2, 2, 3, 3]])
    assert majority_class(labels, 0.6) == 2  # 5 of 8 pixels
    assert majority_class(labels, 0.7) is None
    assert majority_class(np.zeros((4, 4), dtype=int), 0.5) is None


def test_folders_are_named_by_osm_phrase_for_area_classes_only() -> None:
    names = class_folder_names()
    assert names[get_class("wood").id] == "woodland"
    assert names[get_class("residential_area").id] == "residential_area"
    assert get_class("house").id not in names and get_class("track").id not in names


def test_chips_are_labelled_by_the_class_raster_and_lie_in_test_cells(
        region: RegionInfo, tmp_path: Path) -> None:
    rule = LandCoverRule(chip_m=48.0, min_per_class=1,
                         split=SplitRule(cell_m=300.0, fractions=(0.5, 0.0, 0.5)), seed=1)
    made = write_land_cover_set(region, tmp_path / "lc", rule)
    assert made.classes, "a 600 m region has land cover in its test cells"
    with rasterio.open(region.classes_path) as source:
        labels, transform = source.read(1), source.transform
    west, _, _, north = region.bounds
    by_name = {name: class_id for class_id, name in class_folder_names().items()}
    for folder, count in made.classes.items():
        files = sorted((tmp_path / "lc" / folder).glob("*.jpg"))
        assert len(files) == count
        for path in files[:3]:
            row, col = (int(part[1:]) for part in path.stem.split("_"))
            left, top = west + col * rule.chip_m, north - row * rule.chip_m
            bounds = (left, top - rule.chip_m, left + rule.chip_m, top)
            assert centre_splits(grid_boxes([bounds], region.crs), 300.0, rule.seed,
                                 rule.split.fractions) == ["test"]
            first_row, first_col = rasterio.transform.rowcol(transform, left, top)
            size = int(rule.chip_m / region.gsd_m)
            window = labels[first_row:first_row + size, first_col:first_col + size]
            assert majority_class(window, rule.min_share) == by_name[folder]
    assert (tmp_path / "lc" / SUMMARY_FILE).is_file()
    # Chips next to a chip of the other split were dropped so that no test chip touches one.
    assert made.rejected["near_other_split"] == sum(
        n["dropped_near_other_split"] for n in made.split["per_split"].values()) > 0


def test_classes_under_the_minimum_are_dropped_and_reported(region: RegionInfo,
                                                             tmp_path: Path) -> None:
    rule = LandCoverRule(chip_m=48.0, min_per_class=10_000,
                         split=SplitRule(fractions=(0.0, 0.0, 1.0)))
    made = write_land_cover_set(region, tmp_path / "lc", rule)
    assert made.classes == {} and sum(made.dropped.values()) > 0


def test_unreadable_class_raster_is_one_clear_error(region: RegionInfo, tmp_path: Path) -> None:
    broken = tmp_path / "classes.tif"
    broken.write_bytes(b"not a tiff")
    fake = RegionInfo(**{**region.__dict__, "classes_path": broken})
    with pytest.raises(InputError, match="unreadable class raster"):
        write_land_cover_set(fake, tmp_path / "lc")


def test_cli_job_writes_the_same_set(region: RegionInfo, tmp_path: Path,
                                     capsys: pytest.CaptureFixture) -> None:
    rule = LandCoverRule(chip_m=48.0, min_per_class=2, splits=("train", "test"),
                         split=SplitRule(cell_m=200.0, fractions=(0.5, 0.0, 0.5)), seed=3)
    made = write_land_cover_set(region, tmp_path / "api", rule)
    assert main(["build", "land-cover", "--region", str(region.out_dir), "--out",
                 str(tmp_path / "cli"), "--chip-m", "48", "--min-per-class", "2", "--splits",
                 "train", "test", "--split-cell-m", "200", "--split-fractions", "0.5", "0", "0.5",
                 "--seed", "3"]) == 0
    files = {p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*.jpg")}
    assert files == {p.relative_to(tmp_path / "api") for p in (tmp_path / "api").rglob("*.jpg")}
    assert len(files) == sum(made.classes.values()) > 0
    assert f"{len(files)} chips in" in capsys.readouterr().out
    assert main(["build", "land-cover", "--region", str(tmp_path / "nowhere"), "--out",
                 str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()
