"""The features frame contract and the bbox filter."""

from __future__ import annotations

import pytest
import shapely

from rsvl.errors import ConfigError
from rsvl.osm.features import FEATURE_COLUMNS, clip_to_bbox, empty_features, features_frame


def test_frame_has_exactly_the_contract_columns() -> None:
    frame = features_frame(["node/1"], [{"amenity": "bench"}], [shapely.Point(1, 2)])
    assert tuple(frame.columns) == FEATURE_COLUMNS
    assert frame.crs == "EPSG:4326"
    assert tuple(empty_features().columns) == FEATURE_COLUMNS


def test_clip_keeps_intersecting_features_whole() -> None:
    frame = features_frame(
        ["way/1", "node/2"],
        [{"highway": "path"}, {"amenity": "bench"}],
        [shapely.LineString([(0.5, 0.5), (3, 0.5)]), shapely.Point(5, 5)],
    )
    clipped = clip_to_bbox(frame, (0, 0, 1, 1))
    assert clipped.osm_id.tolist() == ["way/1"]
    assert clipped.geometry[0].length == pytest.approx(2.5)


def test_inverted_bbox_is_config_error() -> None:
    with pytest.raises(ConfigError, match="west < east"):
        clip_to_bbox(features_frame(["node/1"], [{"a": "b"}], [shapely.Point(0, 0)]), (1, 0, 0, 1))
