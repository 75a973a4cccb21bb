"""Reprojection of bounds and footprints, and ground sample distance in metres."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Polygon, box, mapping

from rsvl.imagery.geo import (
    crs_string,
    footprint_to_crs,
    ground_sample_distance,
    intersection,
    metres_per_unit,
    transform_bounds,
)


def test_transform_bounds_to_web_mercator_by_hand() -> None:
    minx, miny, maxx, maxy = transform_bounds((0.0, 0.0, 1.0, 1.0), "EPSG:4326", "EPSG:3857")
    # x = R * lon (radians); y = R * ln(tan(pi/4 + lat/2)), R = 6378137.
    assert (minx, miny) == pytest.approx((0.0, 0.0), abs=1e-6)
    assert maxx == pytest.approx(6378137 * math.radians(1.0))
    assert maxy == pytest.approx(6378137 * math.log(math.tan(math.pi / 4 + math.radians(0.5))))
    assert transform_bounds((1, 2, 3, 4), "EPSG:3857", "epsg:3857") == (1, 2, 3, 4)


def test_footprint_round_trip_and_geojson_input() -> None:
    square = box(-9.455, 38.848, -9.454, 38.849)
    utm = footprint_to_crs(square, "EPSG:4326", "EPSG:32629")
    # 0.001 deg of latitude is 111.0 m; of longitude 111.3 m x cos(38.85 deg) = 86.7 m.
    assert utm.area == pytest.approx(111.0 * 86.7, rel=0.01)
    back = footprint_to_crs(mapping(utm), "EPSG:32629", "EPSG:4326")
    assert isinstance(back, Polygon) and back.symmetric_difference(square).area < 1e-12


def test_metres_per_unit_follows_latitude_in_web_mercator() -> None:
    y60 = transform_bounds((0, 60, 0, 60), "EPSG:4326", "EPSG:3857")[1]
    mx, my = metres_per_unit("EPSG:3857", 0.0, y60)
    assert mx == pytest.approx(0.5, rel=5e-3) and my == pytest.approx(0.5, rel=5e-3)
    assert metres_per_unit("EPSG:32633", 500000, 4000000)[0] == pytest.approx(0.9996, rel=1e-3)


def test_ground_sample_distance_and_intersection() -> None:
    assert ground_sample_distance("EPSG:32633", (500000, 4e6, 501000, 4.001e6), 100, 100) == (
        pytest.approx(10, rel=1e-3))
    assert intersection((0, 0, 2, 2), (1, 1, 3, 3)) == (1, 1, 2, 2)
    assert intersection((0, 0, 1, 1), (1, 0, 2, 1)) is None
    assert crs_string("epsg:4326") == "EPSG:4326"
