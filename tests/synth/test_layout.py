"""The layout: every land-cover class in several parcels spread over the default-size region."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import pytest
from shapely.geometry import Polygon

from rsvl.synth import DEFAULT_SIZE_M, get_class
from rsvl.synth.layout import RURAL_WEIGHTS, layout_region
from rsvl.synth.scene import RegionGrid

SPREAD_CLASSES = [*RURAL_WEIGHTS, "residential_area", "park", "water", "pitch", "parking", "house"]


@pytest.fixture(scope="module")
def default_layout():
    grid = RegionGrid(size_m=DEFAULT_SIZE_M, gsd_m=1.0)
    return grid, layout_region(0, grid)


def test_classes_appear_in_several_separate_places(default_layout) -> None:
    grid, features = default_layout
    centroids = defaultdict(list)
    for feature in features:
        c = feature.geometry.centroid
        if feature.cls and grid.west <= c.x <= grid.east and grid.south <= c.y <= grid.north:
            centroids[feature.cls].append((c.x, c.y))
    for name in SPREAD_CLASSES:
        points = centroids[name]
        assert len(points) >= 3, name
        widest = max(math.dist(p, q) for p, q in itertools.combinations(points, 2))
        assert widest > 0.25 * grid.size_m, f"{name} sits in one corner only"


def test_geometries_are_valid_and_typed(default_layout) -> None:
    _, features = default_layout
    for feature in features:
        assert feature.geometry.is_valid and not feature.geometry.is_empty
        kind = get_class(feature.cls).kind if feature.cls else "line"
        assert (kind == "line") == (feature.geometry.geom_type == "LineString")
    holes = [f for f in features if isinstance(f.geometry, Polygon) and f.geometry.interiors]
    assert {f.cls for f in holes} >= {"forest", "water"}, "a clearing and a lake with an island"


def test_same_seed_same_layout() -> None:
    grid = RegionGrid(size_m=400.0, gsd_m=1.0)
    a, b = layout_region(5, grid), layout_region(5, grid)
    assert [f.geometry.wkb for f in a] == [f.geometry.wkb for f in b]
    assert [f.tags for f in a] == [f.tags for f in b]
    assert [f.geometry.wkb for f in layout_region(6, grid)] != [f.geometry.wkb for f in a]
