"""pyosmium streaming reader: geometry kinds, relations with holes, chunks, broken files."""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest

from rsvl.errors import InputError
from rsvl.osm.osmfile import iter_osm_file


@pytest.fixture()
def edge_cases(test_data: Path) -> Path:
    return test_data / "osm_edge_cases" / "edge_cases.osm"


def _read(path: Path, file_format: str, **kwargs):
    import pandas as pd

    return pd.concat(list(iter_osm_file(path, file_format, **kwargs)), ignore_index=True)


def test_geometry_kinds_follow_osm_rules(edge_cases: Path) -> None:
    features = _read(edge_cases, "osm").set_index("osm_id")
    kinds = features.geometry.geom_type.to_dict()
    assert kinds == {
        "node/1": "Point",
        "node/6": "Point",
        "way/10": "LineString",  # open way
        "way/11": "Polygon",  # building
        "way/12": "LineString",  # closed footway: a ring, not an area
        "way/13": "Polygon",  # area=yes
        "relation/100": "Polygon",  # multipolygon; untagged member ways are not features
    }
    assert features.loc["way/10", "tags"]["name"] == "Edge Street"


def test_multipolygon_relation_keeps_its_hole(edge_cases: Path) -> None:
    features = _read(edge_cases, "osm").set_index("osm_id")
    grass = features.loc["relation/100", "geometry"]
    assert len(grass.interiors) == 1
    # 0.0009^2 outer minus 0.0003^2 inner, in square degrees.
    assert grass.area == pytest.approx(0.0009**2 - 0.0003**2, rel=1e-6)
    assert features.loc["relation/100", "tags"] == {"landuse": "grass"}


def test_chunks_and_bbox(edge_cases: Path) -> None:
    chunks = list(iter_osm_file(edge_cases, "osm", chunk_size=2))
    assert [len(chunk) for chunk in chunks] == [2, 2, 2, 1]
    inside = _read(edge_cases, "osm", bbox=(0.0, 0.0, 0.002, 0.002))
    # way/10 crosses the east edge and is kept whole; node/6 and the relation lie outside.
    assert sorted(inside.osm_id) == ["node/1", "way/10", "way/11", "way/12", "way/13"]
    assert inside.set_index("osm_id").geometry["way/10"].bounds[2] == pytest.approx(0.003)


def test_bz2_xml_reads_like_plain_xml(edge_cases: Path, tmp_path: Path) -> None:
    packed = tmp_path / "edge_cases.osm.bz2"
    packed.write_bytes(bz2.compress(edge_cases.read_bytes()))
    plain, unpacked = _read(edge_cases, "osm"), _read(packed, "osm.bz2")
    assert plain.osm_id.tolist() == unpacked.osm_id.tolist()
    assert plain.geometry.geom_equals(unpacked.geometry).all()


def test_malformed_xml_is_one_line_input_error(edge_cases: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.osm"
    broken.write_text(edge_cases.read_text()[:700] + "<node id=", encoding="utf-8")
    with pytest.raises(InputError, match="broken.osm: not a readable OSM osm file") as caught:
        list(iter_osm_file(broken, "osm"))
    assert "\n" not in str(caught.value)


def test_truncated_pbf_is_input_error(shared_data: Path, tmp_path: Path) -> None:
    whole = (shared_data / "osm" / "helsinki.osm.pbf").read_bytes()
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="cut.osm.pbf: .*complete") as caught:
        list(iter_osm_file(cut, "pbf"))
    assert "\n" not in str(caught.value)


def test_helsinki_pbf_features(shared_data: Path) -> None:
    features = _read(shared_data / "osm" / "helsinki.osm.pbf", "pbf")
    kinds = features.osm_id.str.split("/").str[0].value_counts().to_dict()
    assert kinds == {"node": 8106, "way": 4581, "relation": 98}
    assert sum("building" in tags for tags in features.tags) == 482
    assert sum("highway" in tags for tags in features.tags) == 4001
    assert features.osm_id.is_unique
    assert features.geometry.is_valid.all()
    relations = features[features.osm_id.str.startswith("relation/")]
    assert set(relations.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    holes = relations.geometry.map(lambda shape: len(getattr(shape, "interiors", [])))
    assert (holes > 0).sum() >= 90  # inner courtyards of Helsinki's block buildings
    buildings = features[features.tags.map(lambda tags: "building" in tags)]
    assert set(buildings.geometry.geom_type) <= {"Polygon", "MultiPolygon", "Point"}
