"""Non-visual tags: names, addresses, sources and opening hours for tag cleaning to remove."""

from __future__ import annotations

from shapely.geometry import LineString, box

from rsvl.synth.annotate import annotate, town_name
from rsvl.synth.scene import Feature


def test_annotate_adds_non_visual_tags() -> None:
    features = [
        Feature(box(0, 0, 10, 10), "retail_building", {"building": "retail"}) for _ in range(20)
    ]
    features.append(
        Feature(LineString([(0, 0), (5, 5)]), "residential_road", {"highway": "residential"})
    )
    annotate(features, seed=3)
    shop = features[0].tags
    assert shop["building"] == "retail" and shop["addr:city"] == town_name(3)
    assert {"addr:street", "addr:housenumber", "addr:postcode", "opening_hours"} <= set(shop)
    assert "name" in features[-1].tags
    assert any("source" in f.tags for f in features)
