"""The class registry read from classes.json."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from rsvl.errors import ConfigError
from rsvl.synth import class_for_tags, get_class, list_classes
from rsvl.synth.textures import list_textures


def _looks(look: Mapping) -> list[Mapping]:
    nested = [look["ground"]] if isinstance(look.get("ground"), Mapping) else []
    return [look, *[inner for n in nested for inner in _looks(n)]]


def test_registry_is_consistent() -> None:
    classes = list_classes()
    assert [c.id for c in classes] == list(range(len(classes)))
    assert len({c.name for c in classes}) == len(classes)
    for land_class in classes:
        assert land_class.kind in {"none", "area", "line", "building"}
        assert (land_class.width_m > 0) == (land_class.kind == "line")
        for look in _looks(land_class.look):
            assert look["texture"] in list_textures()


def test_required_vocabulary_is_present() -> None:
    tags = {(k, v) for c in list_classes() for t in c.tags for k, v in t.items()}
    for expected in [
        ("landuse", v)
        for v in (
            "farmland",
            "forest",
            "meadow",
            "orchard",
            "vineyard",
            "residential",
            "industrial",
            "retail",
            "cemetery",
        )
    ]:
        assert expected in tags
    for expected in [
        ("natural", "wood"),
        ("natural", "beach"),
        ("natural", "bare_rock"),
        ("natural", "wetland"),
        ("leisure", "golf_course"),
        ("amenity", "parking"),
        ("aeroway", "runway"),
        ("highway", "track"),
        ("railway", "rail"),
    ]:
        assert expected in tags


def test_class_for_tags() -> None:
    assert class_for_tags({"landuse": "forest", "name": "x"}).name == "forest"
    # A building on top of land use: the building's higher z wins.
    assert class_for_tags({"building": "house", "landuse": "residential"}).name == "house"
    assert class_for_tags({"waterway": "river"}) is None
    assert class_for_tags({"landuse": float("nan")}) is None


def test_unknown_class_is_a_config_error() -> None:
    assert get_class("forest").osm_tags == {"landuse": "forest"}
    with pytest.raises(ConfigError, match="unknown synthetic class 'jungle'"):
        get_class("jungle")
