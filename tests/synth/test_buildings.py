"""Urban blocks: buildings inside their block, apart from each other and from extras."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from shapely.geometry import Polygon

from rsvl.synth.buildings import list_block_types, urban_block
from rsvl.synth.classes import get_class

BLOCK = Polygon([(0, 0), (220, 10), (230, 200), (-10, 190)])


@pytest.mark.parametrize("role", list_block_types())
def test_block_contents(role: str) -> None:
    features = urban_block(np.random.default_rng(0), role, BLOCK, 0.05, Polygon())
    assert get_class(features[0].cls).kind == "area" and features[0].geometry.equals(BLOCK)
    buildings = [f for f in features if get_class(f.cls).kind == "building"]
    for feature in features[1:]:
        assert BLOCK.buffer(15.0).contains(feature.geometry)
    for a, b in itertools.combinations(buildings, 2):
        assert not a.geometry.intersects(b.geometry)
    for building in buildings:
        assert building.tags["roof:shape"] in {"flat", "gabled", "hipped"}
        assert int(building.tags["building:levels"]) >= 1 and building.height_m > 0
    if role in ("houses", "apartments", "retail", "commercial", "industrial"):
        assert buildings, role
    extras = [f for f in features[1:] if get_class(f.cls).kind != "building"]
    for building, extra in itertools.product(buildings, extras):
        assert not building.geometry.intersects(extra.geometry)


def test_keepout_is_respected() -> None:
    river = Polygon([(-20, 80), (260, 80), (260, 120), (-20, 120)])
    features = urban_block(np.random.default_rng(1), "houses", BLOCK, 0.05, river)
    houses = [f for f in features if f.cls == "house"]
    assert houses and not any(h.geometry.intersects(river) for h in houses)
