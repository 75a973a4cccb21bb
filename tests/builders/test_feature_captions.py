"""Features and captions without imagery, on the real Helsinki .osm.pbf."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest

from rsvl.builders.feature_captions import build_feature_captions
from rsvl.errors import InputError


def test_helsinki_pbf_features_and_captions(shared_data: Path, tmp_path: Path) -> None:
    result = build_feature_captions(str(shared_data / "osm" / "helsinki.osm.pbf"), tmp_path,
                                    source="helsinki", command=["test"])
    assert result.features_read > 10_000 and 0.3 < result.captioned / result.features_read < 1
    lines = [json.loads(line) for line in (tmp_path / "captions.jsonl").open()]
    assert len(lines) == result.captioned and len({line["key"] for line in lines}) == len(lines)
    assert all(line["captions"][0].startswith("a satellite image of ") for line in lines)
    assert any(line["osm_id"].startswith("relation/") for line in lines)
    assert not any("name" in line["tags"] for line in lines)
    features = gpd.read_parquet(tmp_path / "features.parquet")
    assert len(features) == result.captioned and features.crs.to_epsg() == 4326
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"]["captioned"] == result.captioned
    assert manifest["imagery_licence"] is None


def test_truncated_pbf_is_one_line(shared_data: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "cut.osm.pbf"
    truncated.write_bytes((shared_data / "osm" / "helsinki.osm.pbf").read_bytes()[:50_000])
    with pytest.raises(InputError, match="cut.osm.pbf"):
        build_feature_captions(str(truncated), tmp_path / "out")
