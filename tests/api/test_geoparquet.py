"""Embeddings as GeoParquet: written by rsvl, read by geopandas and DuckDB, external files
searchable, search by place, polygon and relevance feedback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import box, mapping

from rsvl.api import ImageIndex, RsvlModel
from rsvl.api.geoparquet import EmbeddingColumns, read_embeddings
from rsvl.errors import ConfigError, InputError


@pytest.fixture()
def raster_index(micro_model: RsvlModel, geotiff16: Path) -> ImageIndex:
    """16 chips of 160 m over the 640 m GeoTIFF (UTM 33N)."""
    return ImageIndex.from_raster(micro_model, geotiff16, chip_size_m=160, progress=False)


def test_round_trip_and_readers_without_rsvl(raster_index: ImageIndex, tmp_path: Path) -> None:
    import duckdb
    import geopandas as gpd
    import pyarrow.parquet as pq

    path = raster_index.to_geoparquet(tmp_path / "chips.parquet")
    frame = gpd.read_parquet(path)
    assert len(frame) == 16 and frame.crs.to_epsg() in (4326, None)
    assert frame.crs.equals("OGC:CRS84") or frame.crs.to_epsg() == 4326
    first = raster_index.metadata.geometry.to_crs("EPSG:4326").iloc[0]
    assert frame.geometry.iloc[0].equals_exact(first, 1e-9)
    schema = pq.read_schema(path)
    assert str(schema.field("embedding").type) == "fixed_size_list<element: float>[32]"
    recorded = json.loads(schema.metadata[b"rsvl"])
    assert recorded["model"]["sha256"] == raster_index.model_info["sha256"]
    assert recorded["preprocessing"]["size"] in (32, [32, 32])
    # DuckDB reads the GeoParquet metadata: the column is a GEOMETRY in OGC:CRS84
    rows = duckdb.sql(f"SELECT id, len(embedding), model_spec, typeof(geometry), "
                      f"geometry::VARCHAR FROM '{path}' ORDER BY id").fetchall()
    assert rows[0][:4] == (0, 32, "rsvl-micro", "GEOMETRY('OGC:CRS84')") and len(rows) == 16
    assert rows[0][4].startswith("POLYGON ((")
    back = ImageIndex.load(path)
    np.testing.assert_allclose(back.embeddings, raster_index.embeddings, atol=1e-6)
    text = raster_index.search("a field", k=4)
    again = back.search("a field", k=4, model=raster_index.model)
    assert again["id"].tolist() == text["id"].tolist()


def test_float16_storage(raster_index: ImageIndex, tmp_path: Path) -> None:
    small = raster_index.to_geoparquet(tmp_path / "half.parquet", dtype="float16")
    table = read_embeddings(small)
    assert np.abs(table.embeddings - raster_index.embeddings).max() < 2e-3
    with pytest.raises(ConfigError, match="float32, float16"):
        raster_index.to_geoparquet(tmp_path / "x.parquet", dtype="int8")


def test_external_major_tom_style_file(tmp_path: Path, micro_model: RsvlModel) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 32)).astype(np.float32) * 3  # not normalised
    cells = [box(10 + i * 0.01, 45, 10.01 + i * 0.01, 45.01) for i in range(5)]
    pq.write_table(pa.table({
        "grid_cell": [f"cell_{i}" for i in range(5)],
        "vec": pa.array(vectors.tolist(), type=pa.list_(pa.float32())),
        "geom": pa.array(shapely.to_wkb(np.array(cells)), type=pa.binary()),
        "product_id": ["S2A"] * 5,
    }), tmp_path / "major_tom.parquet")
    columns = EmbeddingColumns(id="grid_cell", embedding="vec", geometry="geom")
    index = ImageIndex.from_geoparquet(tmp_path / "major_tom.parquet", columns=columns)
    np.testing.assert_allclose(np.linalg.norm(index.embeddings, axis=1), 1.0, atol=1e-6)
    by_vector = index.search(vectors[2], k=1)
    assert by_vector["source_id"].tolist() == ["cell_2"] and by_vector["id"].tolist() == [2]
    # cells are 0.01 deg (~790 m) wide: 300 m from cell 2's centre reaches no neighbour,
    # 500 m reaches both (394 m away), nearest first
    assert index.search(near=(10.025, 45.005, 300), k=5)["source_id"].tolist() == ["cell_2"]
    assert index.search(near=(10.025, 45.005, 500), k=5)["source_id"].tolist()[0] == "cell_2"
    assert len(index.search(near=(10.025, 45.005, 500), k=5)) == 3
    with pytest.raises(ConfigError, match="does not record the model"):
        index.search("a port", k=1)
    # the user names the model; a model of another width is refused
    assert len(ImageIndex.from_geoparquet(tmp_path / "major_tom.parquet", model=micro_model,
                                          columns=columns).search("a port", k=2)) == 2
    with pytest.raises(InputError, match="no column 'embedding'"):
        ImageIndex.from_geoparquet(tmp_path / "major_tom.parquet")


def test_mixed_models_and_broken_files_refused(raster_index: ImageIndex, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = raster_index.to_geoparquet(tmp_path / "a.parquet")
    table = pq.read_table(path)
    checksums = table.column("model_sha256").to_pylist()
    checksums[-1] = "0" * 64
    import pyarrow as pa

    mixed = table.set_column(table.column_names.index("model_sha256"), "model_sha256",
                             pa.array(checksums))
    pq.write_table(mixed, tmp_path / "mixed.parquet")
    with pytest.raises(InputError, match="mixes embeddings of 2 models"):
        ImageIndex.load(tmp_path / "mixed.parquet")
    (tmp_path / "broken.parquet").write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="not a readable Parquet file"):
        ImageIndex.load(tmp_path / "broken.parquet")


def test_search_by_place_polygon_and_feedback(raster_index: ImageIndex) -> None:
    footprints = raster_index.metadata.geometry.to_crs("EPSG:4326")
    centre = footprints.iloc[5].centroid
    near = raster_index.search("a field", near=(centre.x, centre.y, 50), k=16)
    assert near["id"].tolist() == [5]  # 160 m chips: neighbours are 80 m from the centre
    ring = raster_index.search(near=(centre.x, centre.y, 200), k=16)
    assert ring["id"].iloc[0] == 5 and set(ring["id"]) <= {0, 1, 2, 4, 5, 6, 8, 9, 10}
    assert ring["score"].isna().all()
    inside = raster_index.search("a field", within=mapping(footprints.iloc[5].buffer(-1e-5)),
                                 k=3)
    assert inside["id"].tolist() == [5]
    top = int(raster_index.search("a field", k=1)["id"][0])
    refined = raster_index.refine("a field", positives=[3], negatives=[top])
    by_hand = (raster_index.embed_query("a field")[0] + 0.75 * raster_index.embeddings[3]
               - 0.25 * raster_index.embeddings[top])
    np.testing.assert_allclose(refined[0], by_hand / np.linalg.norm(by_hand), atol=1e-6)
    towards = raster_index.refine("a field", positives=[3], weights=(0.0, 1.0, 0.0))
    assert raster_index.search(towards, k=1)["id"].tolist() == [3]
    only_positive = raster_index.search(positives=[7], k=1)
    assert only_positive["id"].tolist() == [7]
    with pytest.raises(ConfigError, match="not in"):
        raster_index.refine("a field", positives=[99])
    with pytest.raises(ConfigError, match="longitude/latitude"):
        raster_index.search("a field", near=(500000.0, 4500000.0, 10))


def test_place_search_needs_footprints(micro_model: RsvlModel, image_folder: Path) -> None:
    index = ImageIndex.from_folder(micro_model, image_folder, progress=False)
    with pytest.raises(InputError, match="no footprints"):
        index.search("red", near=(10.0, 45.0, 100))


def test_cli_build_geoparquet_and_query(geotiff16: Path, tmp_path: Path) -> None:
    out = tmp_path / "chips.parquet"

    def rsvl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rsvl", "search", *args],
                              capture_output=True, text=True, check=False)

    built = rsvl("build", "--model", "rsvl-micro", "--from", str(geotiff16), "--chip-size-m",
                 "160", "--out", str(out))
    assert built.returncode == 0, built.stderr
    assert "GeoParquet" in built.stdout and out.is_file()
    import geopandas as gpd

    centre = gpd.read_parquet(out).geometry.iloc[5].centroid
    found = rsvl("query", str(out), "a field", "-k", "3", "--near",
                 f"{centre.x},{centre.y},50", "--json")
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["id"] for line in found.stdout.splitlines()] == [5]
    streamed = rsvl("query", str(out), "a field", "-k", "3", "--backend", "exact-streaming",
                    "--json")
    in_memory = rsvl("query", str(out), "a field", "-k", "3", "--json")
    assert streamed.returncode == 0, streamed.stderr
    assert ([json.loads(line)["id"] for line in streamed.stdout.splitlines()]
            == [json.loads(line)["id"] for line in in_memory.stdout.splitlines()])
    probed = rsvl("query", str(out), "a field", "-k", "3", "--backend", "ivf", "--nprobe",
                  "1000", "--json")
    assert probed.returncode == 2 and "nprobe must lie in 1.." in probed.stderr
    bad = rsvl("query", str(out), "a field", "--near", "1,2")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "LON,LAT,RADIUS_M" in bad.stderr
