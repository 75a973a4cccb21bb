"""Area-ness of closed ways, worked out by hand from the OSM conventions."""

from __future__ import annotations

import pytest

from rsvl.osm.area_rules import is_area


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"building": "yes"}, True),
        ({"landuse": "farmland"}, True),
        ({"natural": "water"}, True),
        ({"natural": "coastline"}, False),
        ({"highway": "residential"}, False),
        ({"highway": "pedestrian", "area": "yes"}, True),
        ({"building": "yes", "area": "no"}, False),
        ({"barrier": "fence"}, False),
        ({"waterway": "riverbank"}, True),
        ({"waterway": "river"}, False),
        ({"power": "line"}, False),
        ({"building": "no", "highway": "service"}, False),
        ({}, False),
    ],
)
def test_is_area(tags: dict[str, str], expected: bool) -> None:
    assert is_area(tags) is expected
