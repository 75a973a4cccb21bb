"""Parsing overpass: sources (the download itself needs the internet; its normaliser is tested
offline in test_tables.py on osmnx.features_from_xml output)."""

from __future__ import annotations

import pytest

from rsvl.errors import ConfigError
from rsvl.osm.overpass import parse_overpass


def test_bbox_source() -> None:
    query = parse_overpass("overpass:bbox=24.93,60.16,24.95,60.17", ("building",))
    assert query.bbox == (24.93, 60.16, 24.95, 60.17)
    assert query.place is None and query.keys == ("building",)


def test_place_source_with_keys() -> None:
    query = parse_overpass("overpass:place=Sintra, Portugal&keys=highway,natural", ("building",))
    assert query.place == "Sintra, Portugal"
    assert query.keys == ("highway", "natural")


@pytest.mark.parametrize("source", ["overpass:bbox=1,2,3", "overpass:", "overpass:city=X"])
def test_bad_sources(source: str) -> None:
    with pytest.raises(ConfigError, match="overpass:bbox="):
        parse_overpass(source, ("building",))
