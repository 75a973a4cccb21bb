"""read_features / iter_features on real exports and every broken input."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

from rsvl.errors import InputError
from rsvl.osm import iter_features, list_formats, read_features
from rsvl.osm.readers import get_reader


def test_suffix_registry() -> None:
    assert {".osm", ".osm.xml", ".osm.bz2", ".osm.gz", ".osm.pbf", ".geojson", ".json"} <= set(
        list_formats()
    )
    assert {".gpkg", ".shp", ".parquet", ".geoparquet"} <= set(list_formats())
    # The longest suffix wins: .osm.pbf is not read as .pbf by accident, nor .osm.xml as .osm.
    assert get_reader(Path("a.osm.pbf")) is not get_reader(Path("a.geojson"))


def test_sintra_geojson_cleaned(shared_data: Path) -> None:
    features = read_features(shared_data / "sintra" / "osm_features.geojson")
    keys = {key for tags in features.tags for key in tags}
    assert not any(key.startswith("@") for key in keys)
    assert "protect_class" in keys and "protect_cl" not in keys
    assert "name:en" in keys and "name_en" not in keys
    assert features.osm_id.str.fullmatch(r"(node|way|relation)/\d+").all()
    assert features.osm_id.is_unique  # tile-cut pieces merged
    beach = features.set_index("osm_id").loc["way/200222070", "tags"]
    assert beach == {"name": "Praia da Aguda", "natural": "beach", "surface": "sand"}


def test_kampala_buildings_need_default_tags(shared_data: Path) -> None:
    path = shared_data / "kampala" / "osm_buildings.geojson"
    with pytest.raises(InputError, match="osm_buildings.geojson has no OSM tag columns"):
        read_features(path)
    features = read_features(path, default_tags={"building": "yes"})
    assert len(features) == 206
    assert all(tags == {"building": "yes"} for tags in features.tags)
    assert set(features.geometry.geom_type) == {"Polygon"}


def test_west_oakland_bz2(shared_data: Path) -> None:
    features = read_features(shared_data / "osm" / "west-oakland.osm.bz2")
    assert features.geometry.geom_type.value_counts().to_dict() == {
        "LineString": 33,
        "Polygon": 33,
        "Point": 21,
    }
    west, south, east, north = features.total_bounds
    assert -122.33 < west < east < -122.28 and 37.79 < south < north < 37.83


def test_helsinki_bbox_and_chunks(shared_data: Path) -> None:
    path = shared_data / "osm" / "helsinki.osm.pbf"
    bbox = (24.940, 60.165, 24.945, 60.170)
    inside = read_features(path, bbox=bbox)
    chunks = list(iter_features(path, bbox=bbox, chunk_size=4000))
    assert sum(len(chunk) for chunk in chunks) == len(inside) > 1000
    assert inside.intersects(shapely.box(*bbox)).all()


def test_default_tags_apply_to_osm_files(test_data: Path) -> None:
    path = test_data / "osm_edge_cases" / "edge_cases.osm"
    features = read_features(path, default_tags={"source": "survey", "amenity": "x"})
    bench = features.set_index("osm_id").loc["node/1", "tags"]
    assert bench == {"source": "survey", "amenity": "bench"}  # the feature's own tag wins


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.osm.pbf", None, "missing.osm.pbf: OSM input file not found"),
        ("empty.osm", b"", "empty.osm: OSM input file is empty"),
        (
            "table.csv",
            b"a,b\n",
            r"table.csv: unknown OSM input format; supported suffixes: .*\.osm\.pbf",
        ),
    ],
)
def test_bad_inputs_are_one_line_errors(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        read_features(path)
    assert "\n" not in str(caught.value)
