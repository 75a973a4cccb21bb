"""The shipped data files load and are consistent with each other."""

from __future__ import annotations

import pytest

from rsvl.osm.datafiles import load_data

POSITIONS = {"before", "after", "with", "replace"}


@pytest.mark.parametrize(
    "name",
    ["area_keys.json", "feature_phrases.json", "attribute_phrases.json", "dropped_tags.json"],
)
def test_data_files_load_without_comment_keys(name: str) -> None:
    data = load_data("rsvl.osm", f"data/{name}")
    assert data and not any(key.startswith("_") for key in data)


def test_attribute_tables_are_consistent() -> None:
    features = load_data("rsvl.osm", "data/feature_phrases.json")
    for key, table in load_data("rsvl.osm", "data/attribute_phrases.json").items():
        assert table["position"] in POSITIONS, key
        assert set(table["applies_to"]) <= set(features), key
        assert ("number" in table) != ("values" in table), key
        assert key not in features, key


def test_phrase_keys_are_never_dropped() -> None:
    dropped = load_data("rsvl.osm", "data/dropped_tags.json")["drop"]
    phrase_keys = set(load_data("rsvl.osm", "data/feature_phrases.json"))
    phrase_keys |= set(load_data("rsvl.osm", "data/attribute_phrases.json"))
    for reason, rule in dropped.items():
        assert not phrase_keys & set(rule.get("keys", ())), reason
