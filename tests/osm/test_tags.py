"""Tag cleaning, phrases and the vocabulary report, against values worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvl.osm import read_features
from rsvl.osm import tags as tags_module
from rsvl.osm.tags import TagVocabulary, clean_tags, describe, drop_reason, phrases, readable


def test_clean_tags_drops_what_is_not_visible() -> None:
    raw = {
        "building": "house",
        "roof:shape": "gabled",
        "name": "Villa",
        "name:pt": "Vila",
        "addr:street": "Rua",
        "contact:phone": "1",
        "phone": "2",
        "website": "w",
        "operator": "o",
        "brand": "b",
        "source": "survey",
        "source:geometry": "x",
        "note": "n",
        "fixme": "f",
        "ref": "12",
        "bus:ref": "7",
        "wikidata": "Q1",
        "disused:amenity": "fuel",
        "was:shop": "bakery",
        "opening_hours": "24/7",
        "check_date": "2020",
        "created_by": "JOSM",
        "surface": "",
        "admin_level": "6",
    }
    assert clean_tags(raw) == {"building": "house", "roof:shape": "gabled"}


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("name", "X", "name"),
        ("addr:city", "X", "address"),
        ("construction:highway", "primary", "lifecycle"),
        ("wikipedia", "en:X", "id"),
        ("surface", None, "empty value"),
        ("building", "no", "value no"),
        ("admin_level", "6", "no phrase"),
        ("highway", "track", None),
    ],
)
def test_drop_reason(key: str, value: str | None, reason: str | None) -> None:
    assert drop_reason(key, value) == reason


def test_hidden_features_have_nothing_groundable() -> None:
    assert clean_tags({"highway": "primary", "tunnel": "yes"}) == {}
    assert describe({"power": "line", "location": "underground"}) is None


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"amenity": "parking"}, "parking lot"),
        ({"landuse": "farmland"}, "farmland"),
        ({"building": "yes"}, "building"),
        ({"building": "house"}, "house"),
        ({"highway": "residential"}, "residential road"),
        ({"natural": "water"}, "water body"),
        ({"natural": "water", "water": "lake"}, "lake"),
        ({"highway": "track", "surface": "unpaved"}, "unpaved track"),
        ({"building": "house", "roof:shape": "gabled"}, "house with gabled roof"),
        (
            {"building": "house", "building:levels": "3", "roof:shape": "gabled"},
            "three-storey house with gabled roof",
        ),
        ({"highway": "residential", "lanes": "2"}, "two-lane residential road"),
        ({"man_made": "water_tower", "building": "yes"}, "water tower"),
        ({"building": "church_hall"}, "church hall building"),
        ({"highway": "service", "service": "parking_aisle"}, "parking aisle"),
        ({"amenity": "parking", "parking": "surface"}, "surface parking lot"),
        ({"highway": "footway", "bridge": "yes"}, "footpath bridge"),
        ({"roof:shape": "9.0", "building": "yes"}, "building"),  # not words: no phrase
        ({"name": "Somewhere", "source": "survey"}, None),
        ({"highway": "proposed"}, None),
        ({"shop": "yes"}, "shop"),
    ],
)
def test_describe(tags: dict[str, str], expected: str | None) -> None:
    assert describe(tags) == expected


def test_phrases_lists_every_groundable_phrase() -> None:
    tags = {"man_made": "water_tower", "building": "yes", "name": "T", "surface": "concrete"}
    assert phrases(tags) == ["water tower", "building", "concrete"]
    assert phrases({"name": "x"}) == []


def test_readable() -> None:
    assert readable("roof:shape") == "roof shape"
    assert readable("water_tower") == "water tower"
    # Fallback values read in lower case, acronyms aside.
    assert describe({"shop": "Store"}) == "store shop"
    assert describe({"shop": "DIY_Outlet"}) == "DIY outlet shop"


def test_vocabulary_report() -> None:
    vocabulary = TagVocabulary()
    vocabulary.update(
        [
            {"building": "house", "name": "A"},
            {"building": "house", "roof:shape": "gabled"},
            {"building": "yes"},
            {"highway": "primary", "tunnel": "yes"},
            {"man_made": "carpet_hanger"},  # no phrase listed: the fallback
        ]
    )
    assert vocabulary.features[("building", "house")] == 2
    assert vocabulary.attributes[("roof:shape", "gabled roof")] == 1
    assert vocabulary.fallbacks == {("man_made", "man made carpet hanger"): 1}
    assert vocabulary.dropped["name"] == 1
    assert vocabulary.hidden == 1
    report = vocabulary.report()
    assert "tag vocabulary: 5 features, 1 hidden from above" in report
    assert "feature building (3): house 2, building 1" in report
    assert vocabulary.to_dict()["features"]["building=house"] == 2


def test_sintra_phrases(shared_data: Path) -> None:
    features = read_features(shared_data / "sintra" / "osm_features.geojson")
    described = {describe(tags) for tags in features.tags} - {None}
    assert {"sandy beach", "ruins", "surface parking lot", "water tower"} <= described
    assert "gravel track" in described
    # The protected-area boundary and administrative border are not visible from above.
    assert not any("boundary" in text or "protected" in text for text in described)


def test_memoised_results_are_fresh_and_typed() -> None:
    tags = {"building": "house", "building:levels": "2", "name": "A"}
    first = clean_tags(tags)
    first["building"] = "changed"  # the caller's copy, not the memo
    assert clean_tags(tags) == {"building": "house", "building:levels": "2"}
    # 2, 2.0 and "2" are equal dict keys but different tag values: never conflated.
    assert describe({"building": "house", "building:levels": "2"}) == "two-storey house"
    assert describe({"building": "house", "building:levels": 2.0}) == "house"
    assert clean_tags({"building": "house", "building:levels": 2.0})["building:levels"] == "2.0"
    assert clean_tags({"building": "house", "building:levels": 2})["building:levels"] == "2"
    # Order is part of the memo's key: cleaned tags keep the raw order.
    assert list(clean_tags({"surface": "sand", "highway": "track"})) == ["surface", "highway"]
    assert list(clean_tags({"highway": "track", "surface": "sand"})) == ["highway", "surface"]


def test_memoised_results_equal_fresh_ones_on_real_tags(shared_data: Path) -> None:
    # Real, messy tags (shapefile-cut keys, lifecycle prefixes, names...).
    features = read_features(shared_data / "sintra" / "osm_features.geojson")
    for tags in list(features.tags) * 2:  # the second pass is served from the memo
        assert clean_tags(tags) == dict(tags_module._clean(tags))
        assert tags_module.describe_parts(tags) == tags_module._describe(tags)
