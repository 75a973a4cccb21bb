"""Noun phrases, worked out by hand: articles, plurals of the head noun, counts by kind."""

from __future__ import annotations

import sys

import pytest

from rsvl.captions.text import NounPhrase, article, join_list, kind_of, number, plural
from rsvl.osm.tags import describe_parts


def _phrase(tags: dict[str, str], attributes: bool = True) -> NounPhrase:
    parts = describe_parts(tags)
    assert parts is not None
    return NounPhrase.of(parts, attributes)


@pytest.mark.parametrize(
    ("tags", "count", "expected"),
    [
        ({"building": "house"}, 1, "a house"),
        ({"building": "house"}, 3, "three houses"),
        ({"man_made": "storage_tank"}, 2, "two storage tanks"),
        ({"leisure": "swimming_pool"}, 12, "twelve swimming pools"),
        ({"amenity": "parking"}, 13, "thirteen parking lots"),
        ({"amenity": "place_of_worship"}, 2, "two places of worship"),
        ({"amenity": "atm"}, 2, "two ATMs"),
        ({"highway": "track", "surface": "unpaved"}, 1, "an unpaved track"),
        ({"highway": "footway"}, 4, "footpaths"),  # segments of lines are not counted
        ({"landuse": "residential"}, 5, "a residential area"),  # nor fragments of areas
        ({"landuse": "railway"}, 6, "railway land"),
        ({"landuse": "farmland"}, 1, "farmland"),
        ({"historic": "ruins"}, 1, "ruins"),
        ({"building": "house", "roof:shape": "gabled"}, 1, "a house with a gabled roof"),
        ({"building": "house", "roof:shape": "gabled"}, 2, "two houses with gabled roofs"),
        ({"building": "apartments", "building:levels": "2"}, 1,
         "a two-storey apartment building"),
        ({"building": "apartments", "building:levels": "8"}, 1,
         "an eight-storey apartment building"),
        ({"building": "yes", "building:levels": "18"}, 1, "an 18-storey building"),
        ({"building": "house", "roof:shape": "onion"}, 1, "a house with an onion dome"),
    ],
)
def test_forms(tags: dict[str, str], count: int, expected: str) -> None:
    assert _phrase(tags).form(count) == expected


def test_other_features_of_the_focus_noun() -> None:
    house = _phrase({"building": "house"}, attributes=False)
    assert house.form(1, other=True) == "another house"
    assert house.form(3, other=True) == "three other houses"
    assert _phrase({"highway": "path"}).form(2, other=True) == "other paths"
    assert _phrase({"landuse": "meadow"}).form(4, other=True) is None  # the same meadow


def test_kinds_come_from_data() -> None:
    def kind(tags: dict[str, str]) -> str:
        parts = describe_parts(tags)
        assert parts is not None
        return kind_of(parts)

    assert kind({"natural": "tree"}) == "object"  # a phrase's own entry beats its key's
    assert kind({"natural": "beach"}) == "area"  # the key's default
    assert kind({"landuse": "foo"}) == "area"  # fallback phrases take the key's kind
    assert kind({"landuse": "forest"}) == "mass"
    assert kind({"building": "terrace"}) == "plural"
    # Every feature key declares a kind (a new key in feature_phrases.json needs one).
    from rsvl.captions.text import _words
    from rsvl.osm.tags import feature_keys

    assert set(_words()["key_kinds"]) == {k for k in feature_keys() if not k.startswith("_")}


def test_article_plural_number() -> None:
    assert article("university campus") == "a"
    assert article("hour") == "an"
    assert article("ATM") == "an"
    assert article("11-storey house") == "an"
    assert plural("railway switch") == "railway switches"
    assert plural("bay") == "bays"
    assert plural("shelf") == "shelves"
    assert number(21) == "twenty-one"


def test_inflect_import_leaves_no_stub_behind() -> None:
    # inflect is imported with a stand-in for typeguard (whose instrumentation costs seconds
    # per build worker); the real typeguard, if anything imports it, is untouched.
    assert article("apple") == "an"
    typeguard = sys.modules.get("typeguard")
    assert typeguard is None or hasattr(typeguard, "check_type")


def test_join_list() -> None:
    assert join_list([]) == ""
    assert join_list(["a"]) == "a"
    assert join_list(["a", "b"]) == "a and b"
    assert join_list(["a", "b", "c"]) == "a, b and c"
