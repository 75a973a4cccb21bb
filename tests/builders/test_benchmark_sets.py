"""Classification class folders and the Karpathy retrieval set, read by the evaluators."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rsvl.builders.benchmark_sets import (
    get_classification_task,
    list_classification_tasks,
    tokens,
    write_classification_sets,
    write_retrieval_set,
)
from rsvl.data.records import Record
from rsvl.errors import ConfigError
from rsvl.evaluation.datasets import load_classification, load_retrieval


def test_task_registry_and_class_rules() -> None:
    assert {"land_use", "road_surface", "roof_shape"} <= set(list_classification_tasks())
    land_use = get_classification_task("land_use")
    assert land_use.class_of({"landuse": "farmland", "natural": "wood"}) == "farmland"
    assert land_use.class_of({"leisure": "park"}) == "park"
    assert land_use.class_of({"building": "yes"}) is None
    surface = get_classification_task("road_surface")
    assert surface.class_of({"highway": "track", "surface": "fine_gravel"}) == "fine_gravel"
    assert surface.class_of({"surface": "sand"}) is None  # a beach is no road
    assert get_classification_task("building_type").class_of({"building": "yes"}) is None
    # Named as the captions say it, so zero-shot prompts match the training captions.
    assert get_classification_task("roof_shape").class_of(
        {"building": "house", "roof:shape": "gabled"}) == "gabled_roof"
    assert get_classification_task("building_type").class_of(
        {"building": "apartments"}) == "apartment_building"
    with pytest.raises(ConfigError, match="unknown classification task 'roofs'"):
        get_classification_task("roofs")


def test_class_folders_read_by_the_evaluator(tmp_path: Path,
                                             make_dataset: Callable[..., list[Record]]) -> None:
    records = make_dataset(tmp_path, 9)
    # A single beach: below min_per_class, dropped and reported.
    records = [dataclasses.replace(r, tags={"landuse": "farmland"}) if r.tags.get("natural")
               and r.key != "fixture-way-1" else r for r in records]
    sets = write_classification_sets(tmp_path, records, ["land_use"], min_per_class=2,
                                     splits=["train", "val", "test"])
    assert sets[0].classes == {"farmland": 5} and sets[0].dropped == {"beach": 1}
    loaded = load_classification(tmp_path / "classification" / "land_use")
    assert loaded.classes == ["farmland"] and len(loaded.paths) == 5
    summary = json.loads((tmp_path / "classification" / "summary.json").read_text())
    assert summary["tasks"]["land_use"]["dropped"] == {"beach": 1}
    again = write_classification_sets(tmp_path, records, ["land_use"], min_per_class=2,
                                      splits=["test"])
    assert again[0].classes == {} and not list((tmp_path / "classification").glob(".*"))


def test_retrieval_set_read_by_the_evaluator(tmp_path: Path,
                                             make_dataset: Callable[..., list[Record]]) -> None:
    records = make_dataset(tmp_path, 6)
    path = write_retrieval_set(tmp_path, records, split="test")
    payload = json.loads(path.read_text())
    assert [image["key"] for image in payload["images"]] == ["fixture-way-2", "fixture-way-5"]
    sentence = payload["images"][1]["sentences"][1]
    assert sentence == {"raw": "thing 5 seen from above", "tokens": tokens(
        "thing 5 seen from above"), "imgid": 1, "sentid": 3}
    loaded = load_retrieval(path.parent, split="test")
    assert [p.name for p in loaded.image_paths] == ["fixture-way-2.jpg", "fixture-way-5.jpg"]
    assert len(loaded.captions) == 4 and loaded.caption_image == [0, 0, 1, 1]


def test_tokens() -> None:
    assert tokens("A satellite image of Parking-lot, 2 cars.") == [
        "a", "satellite", "image", "of", "parking", "lot", "2", "cars"]
