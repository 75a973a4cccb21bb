"""Seeded captions from the template data."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvl.captions import get_template_set, list_template_sets, make_captions
from rsvl.captions.templates import context_phrase
from rsvl.errors import ConfigError

HOUSE = {"building": "house", "roof:shape": "gabled", "name": "Casa"}
CONTEXT = [
    {"building": "house"},
    {"amenity": "parking"},
    {"building": "house"},
    {"name": "nothing groundable"},
    {"highway": "track", "surface": "unpaved"},
    {"building": "house"},
    {"landuse": "farmland"},
]


def test_context_phrase_counts_objects_only_in_first_seen_order_and_caps() -> None:
    assert context_phrase(CONTEXT, 4) == "three houses, a parking lot, a track and farmland"
    assert context_phrase(CONTEXT, 1) == "three houses"
    assert context_phrase([{"name": "x"}], 3) is None
    assert context_phrase([{"landuse": "residential"}] * 5, 3) == "a residential area"
    # One noun under two keys (a harbour basin and harbour land use) is named once.
    assert context_phrase([{"water": "harbour"}, {"landuse": "harbour"}], 3) == "a harbour"


def test_first_caption_is_plain_skyscript_and_second_names_the_context() -> None:
    captions = make_captions(HOUSE, CONTEXT, seed="chip-1", n=3)
    assert len(captions) == 3 == len(set(captions))
    assert captions[0] == "a satellite image of a house with a gabled roof"
    context = "three other houses, a parking lot and a track"
    assert context in captions[1]
    templates = get_template_set("skyscript")
    possible = {template.format(scene="a house with a gabled roof", context=context)
                for template in templates.with_context}
    assert captions[1] in possible


def test_an_area_covering_the_chip_centre_holds_the_focus() -> None:
    context = [{"landuse": "residential"}, {"building": "house"}, {"landuse": "residential"},
               {"landuse": "farmland"}]
    captions = make_captions({"building": "house"}, context, seed=3, n=6,
                             inside=[True, False, False, False])
    assert captions[0] == "a satellite image of a house"  # SkyScript's form stays plain
    assert all("a house in a residential area" in caption for caption in captions[1:])
    # The holding area's other fragment is not named again; farmland is only adjacent.
    assert "another house and farmland" in captions[1]
    assert "residential area" not in captions[1].split(" in a residential area", 1)[1]
    # Objects (and lines) never hold the focus, nor does an area of the focus's own noun.
    assert not any(" in " in c for c in make_captions(
        {"building": "house"}, [{"building": "house"}], seed=0, n=6, inside=[True]))
    assert not any(" in " in c for c in make_captions(
        {"landuse": "meadow"}, [{"landuse": "meadow"}], seed=0, n=6, inside=[True]))


def test_seeded_and_deterministic() -> None:
    first = make_captions(HOUSE, CONTEXT, seed=7, n=5)
    assert make_captions(HOUSE, CONTEXT, seed=7, n=5) == first
    others = {tuple(make_captions(HOUSE, CONTEXT, seed=seed, n=5)) for seed in range(20)}
    assert len(others) > 1  # the seed matters


def test_without_context_only_focus_variants() -> None:
    captions = make_captions({"natural": "beach", "surface": "sand"}, [], seed=0, n=10)
    assert captions[0] == "a satellite image of a sandy beach"
    assert len(captions) == 1 + len(get_template_set("skyscript").focus_only)
    assert all("a sandy beach" in caption for caption in captions)


def test_nothing_groundable_gives_no_captions() -> None:
    assert make_captions({"name": "x", "source": "y"}, CONTEXT, seed=0) == []


def test_template_registry() -> None:
    assert "skyscript" in list_template_sets()
    with pytest.raises(ConfigError, match="unknown caption template set 'nope'"):
        make_captions(HOUSE, [], seed=0, template_set="nope")


def test_sintra_captions(shared_data: Path) -> None:
    from rsvl.osm import read_features

    features = read_features(shared_data / "sintra" / "osm_features.geojson")
    features = features.to_crs("EPSG:3763").set_index("osm_id")  # metres, Portugal
    beach = features.loc["way/200222070"]
    nearest_first = features.geometry.distance(beach.geometry).drop(beach.name).sort_values()
    context = [features.loc[osm_id, "tags"] for osm_id in nearest_first.index]
    captions = make_captions(beach["tags"], context, seed="way/200222070")
    assert captions[0] == "a satellite image of a sandy beach"
    # Nearest: the coastline, the beach steps and two cliff pieces (capped at three phrases;
    # cliffs are mapped as segments, so they are not counted).
    assert "a sandy beach" in captions[1] and "a coastline, steps and cliffs" in captions[1]
