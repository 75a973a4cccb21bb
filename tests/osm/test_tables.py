"""Normalising messy tabular exports: ids, nulls, metadata, Shapefile-cut keys, osmnx frames."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import osmnx
import pytest
import shapely

from rsvl.errors import InputError
from rsvl.osm.osmfile import iter_osm_file
from rsvl.osm.tables import normalise_table, shapefile_key, tag_value


def _table(columns: dict[str, list], n: int) -> gpd.GeoDataFrame:
    points = [shapely.Point(i, i) for i in range(n)]
    return gpd.GeoDataFrame(columns, geometry=points, crs="EPSG:4326")


def test_nulls_and_metadata_dropped_ids_from_at_id() -> None:
    table = _table(
        {
            "@id": ["way/5", None],
            "@user": ["someone", "else"],
            "highway": ["track", None],
            "surface": [None, "sand"],
        },
        2,
    )
    features = normalise_table(table, "t.geojson")
    assert features.osm_id.tolist() == ["way/5", "feature/1"]
    assert features.tags.tolist() == [{"highway": "track"}, {"surface": "sand"}]


def test_numeric_id_with_type_column() -> None:
    table = _table(
        {"osm_id": [7.0, 8.0], "osm_type": ["W", "relation"], "man_made": ["pier"] * 2}, 2
    )
    assert normalise_table(table, "t").osm_id.tolist() == ["way/7", "relation/8"]


def test_cut_keys_map_back_to_full_keys() -> None:
    table = _table(
        {
            "protect_cl": ["97", None, None],
            "protect_class": [None, "5", None],
            "name_en": [None, None, "Beach"],
            "name:en": ["Cliff", None, None],
            # Looks cut, but disagrees with the full key on a feature: a real, different key.
            "population": ["10", None, None],
            "population:date": ["2020", None, None],
        },
        3,
    )
    tags = normalise_table(table, "t").tags.tolist()
    assert tags[0] == {
        "protect_class": "97",
        "name:en": "Cliff",
        "population": "10",
        "population:date": "2020",
    }
    assert tags[1] == {"protect_class": "5"}
    assert tags[2] == {"name:en": "Beach"}


def test_tile_cut_pieces_are_merged() -> None:
    table = gpd.GeoDataFrame(
        {"@id": [3, 3], "@type": ["way", "way"], "natural": ["beach", "beach"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )
    features = normalise_table(table, "t")
    assert features.osm_id.tolist() == ["way/3"]
    assert features.geometry[0].area == pytest.approx(2.0)


def test_no_tag_columns_needs_default_tags() -> None:
    table = _table({"osm_id": [np.nan, 12.0]}, 2)
    with pytest.raises(InputError, match="has no OSM tag columns; pass default_tags="):
        normalise_table(table, "b.geojson")
    features = normalise_table(table, "b.geojson", {"building": "yes"})
    # Without a type column, a Point id is a node.
    assert features.osm_id.tolist() == ["feature/0", "node/12"]
    assert features.tags.tolist() == [{"building": "yes"}] * 2


def test_projected_exports_are_reprojected() -> None:
    table = gpd.GeoDataFrame(
        {"building": ["yes"]}, geometry=[shapely.Point(500000, 0)], crs="EPSG:32631"
    )
    point = normalise_table(table, "t").geometry[0]
    assert (point.x, point.y) == pytest.approx((3.0, 0.0), abs=1e-6)


def test_tag_value_and_shapefile_key() -> None:
    assert [tag_value(v) for v in (None, np.nan, "", " x ", 3.0, 2.5, True)] == [
        None,
        None,
        None,
        "x",
        "3",
        "2.5",
        "yes",
    ]
    assert shapefile_key("protection_title") == "protection"
    assert shapefile_key("name:en") == "name_en"


def test_osmnx_frame_matches_pyosmium_reader(test_data: Path) -> None:
    # The Overpass path: osmnx frames indexed by (element, id), read offline from XML.
    path = test_data / "osm_edge_cases" / "edge_cases.osm"
    from_osmnx = normalise_table(osmnx.features_from_xml(path), "osmnx").set_index("osm_id")
    from_osmium = next(iter_osm_file(path, "osm")).set_index("osm_id")
    assert sorted(from_osmnx.index) == sorted(from_osmium.index)
    for osm_id, row in from_osmium.iterrows():
        expected_tags = dict(row["tags"])
        if osm_id.startswith("relation/"):
            expected_tags["type"] = "multipolygon"  # osmnx keeps it, libosmium drops it
        assert from_osmnx.loc[osm_id, "tags"] == expected_tags
        assert from_osmnx.loc[osm_id, "geometry"].equals(row["geometry"])
