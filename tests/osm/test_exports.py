"""GDAL exports and rsvl's GeoParquet: round trip, other layouts, broken files."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from rsvl.errors import InputError
from rsvl.osm.exports import read_gdal_export, read_geoparquet, write_features
from rsvl.osm.features import features_frame


def _features() -> gpd.GeoDataFrame:
    return features_frame(
        ["way/1", "relation/2"],
        [{"building": "house", "name": "Villa é"}, {"landuse": "grass"}],
        [shapely.box(0, 0, 1, 1), shapely.box(2, 2, 4, 4).difference(shapely.box(2.5, 2.5, 3, 3))],
    )


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    path = write_features(_features(), tmp_path / "out" / "features.parquet")
    assert [p.name for p in path.parent.iterdir()] == ["features.parquet"]  # no temp left
    back = read_geoparquet(path)
    assert back.osm_id.tolist() == ["way/1", "relation/2"]
    assert back.tags.tolist() == _features().tags.tolist()
    assert back.geometry.geom_equals(_features().geometry).all()
    stored = pd.read_parquet(path)
    assert json.loads(stored["tags"][0]) == {"building": "house", "name": "Villa é"}


def test_geoparquet_with_tag_columns(tmp_path: Path) -> None:
    table = gpd.GeoDataFrame(
        {"id": ["node/4"], "amenity": ["bench"], "name": [None]},
        geometry=[shapely.Point(0, 0)],
        crs="EPSG:4326",
    )
    table.to_parquet(tmp_path / "columns.parquet")
    back = read_geoparquet(tmp_path / "columns.parquet")
    assert back.osm_id.tolist() == ["node/4"]
    assert back.tags.tolist() == [{"amenity": "bench"}]


def test_plain_parquet_is_input_error(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(InputError, match="plain.parquet: not a GeoParquet file"):
        read_geoparquet(tmp_path / "plain.parquet")


def test_geopackage_export(tmp_path: Path) -> None:
    table = gpd.GeoDataFrame(
        {"osm_id": ["way/9"], "highway": ["track"], "surface": ["gravel"]},
        geometry=[shapely.LineString([(0, 0), (1, 1)])],
        crs="EPSG:4326",
    )
    table.to_file(tmp_path / "roads.gpkg")
    back = read_gdal_export(tmp_path / "roads.gpkg")
    assert back.osm_id.tolist() == ["way/9"]
    assert back.tags.tolist() == [{"highway": "track", "surface": "gravel"}]


def test_broken_geojson_is_input_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [{"type": "Feat', encoding="utf-8")
    with pytest.raises(InputError, match="broken.geojson: not a readable vector file"):
        read_gdal_export(broken)


def test_geojson_without_tags_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "footprints.geojson"
    feature = {
        "type": "Feature",
        "properties": {"osm_id": None},
        "geometry": {"type": "Point", "coordinates": [1, 2]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(InputError, match="footprints.geojson has no OSM tag columns"):
        read_gdal_export(path)
