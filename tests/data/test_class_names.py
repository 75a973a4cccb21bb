"""Class display names: the rule shared by the importers and the evaluators."""

from __future__ import annotations

import pytest

from rsvl.data.class_names import display_name


@pytest.mark.parametrize(("folder", "name"), [
    ("SeaLake", "sea lake"), ("railway_station", "railway station"),
    ("railwaystation", "railway station"), ("golf_course", "golf course"),
    ("HerbaceousVegetation", "herbaceous vegetation"), ("storage-tanks", "storage tanks"),
    ("storagetanks", "storage tanks"), ("footballField", "football field"),
    ("AnnualCrop", "annual crop"), ("USGSImages", "usgs images"), ("airport", "airport"),
    ("river", "river"),
])
def test_display_names(folder: str, name: str) -> None:
    assert display_name(folder) == name


def test_overrides_win() -> None:
    assert display_name("aGrass", {"aGrass": "grass"}) == "grass"
    assert display_name("SeaLake", {"aGrass": "grass"}) == "sea lake"


def test_evaluators_and_importers_use_the_same_rule() -> None:
    from rsvl.builders.importers import folder
    from rsvl.evaluation import datasets

    assert datasets.display_name is display_name and folder.display_name is display_name
