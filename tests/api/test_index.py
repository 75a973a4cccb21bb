"""ImageIndex: building from every source, save/load, search, model checks, wrong inputs."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from rsvl.api import ImageIndex, RsvlModel, load_model
from rsvl.api.index import model_info, source_kind
from rsvl.builders.export import write_shards
from rsvl.data.records import Record, write_records
from rsvl.data.shards import ShardWriter
from rsvl.errors import ConfigError, InputError


def _records(folder: Path, count: int = 4) -> list[Record]:
    from PIL import Image

    (folder / "chips").mkdir(parents=True)
    records = []
    for i in range(count):
        Image.new("RGB", (16, 16), (60 * i, 30, 200 - 40 * i)).save(folder / f"chips/k{i}.jpg")
        records.append(Record(key=f"k{i}", image=f"chips/k{i}.jpg", captions=[f"caption {i}"],
                              split="test", source="unit", licence="CC0",
                              footprint=[500000 + 100 * i, 4500000, 500100 + 100 * i, 4500100],
                              crs="EPSG:32633"))
    return records


def test_folder_index_search_save_load(micro_model: RsvlModel, image_folder: Path,
                                       tmp_path: Path) -> None:
    index = ImageIndex.from_folder(micro_model, image_folder, progress=False)
    assert len(index) == 6 and index.backend_name == "exact"
    assert sorted(index.metadata["key"]) == ["a.jpg", "b.png", "c.tif", "d.png", "sub/e.jpg",
                                             "sub/f.png"]
    by_image = index.search(image_folder / "d.png", k=3)
    assert by_image.loc[0, "key"] == "d.png" and by_image.loc[0, "score"] == pytest.approx(1.0)
    assert list(by_image["rank"]) == [1, 2, 3] and by_image["score"].is_monotonic_decreasing
    by_text = index.search("a red roof", k=50)
    assert len(by_text) == 6  # k larger than the index is clamped
    index.save(tmp_path / "idx")
    loaded = ImageIndex.load(tmp_path / "idx")
    pd.testing.assert_frame_equal(loaded.search("a red roof", k=6), by_text)
    header = json.loads((tmp_path / "idx" / "index.json").read_text())
    assert header["model"]["sha256"] == micro_model.checksum and header["count"] == 6
    index.save(tmp_path / "half", dtype="float16")
    half = ImageIndex.load(tmp_path / "half", model=micro_model).search("a red roof", k=6)
    np.testing.assert_allclose(half["score"], by_text["score"], atol=2e-3)


def test_raster_index_footprints(micro_model: RsvlModel, geotiff16: Path, tmp_path: Path) -> None:
    index = ImageIndex.from_raster(micro_model, geotiff16, chip_size_m=160, bands=(4, 3, 2),
                                   progress=False)
    assert len(index) == 16 and index.crs == "EPSG:32633"
    assert isinstance(index.metadata, gpd.GeoDataFrame)
    total = index.metadata.union_all().bounds
    assert total == pytest.approx((500000, 4499360, 500640, 4500000))
    overlapping = ImageIndex.from_raster(micro_model, geotiff16, chip_size_m=160, stride=0.5,
                                         progress=False)
    assert len(overlapping) > len(index)
    results = index.search("a field", k=4)
    assert isinstance(results, gpd.GeoDataFrame) and results.crs == index.metadata.crs
    index.save(tmp_path / "raster.index")
    again = ImageIndex.load(tmp_path / "raster.index").search("a field", k=4)
    assert isinstance(again, gpd.GeoDataFrame) and again.crs == results.crs
    assert list(again["key"]) == list(results["key"])
    assert again.loc[0, "bands"].tolist() == [4, 3, 2]


def test_records_and_shards(micro_model: RsvlModel, tmp_path: Path) -> None:
    records = _records(tmp_path / "ds")
    write_records(tmp_path / "ds" / "records.jsonl", records)
    from_file = ImageIndex.from_records(micro_model, tmp_path / "ds" / "records.jsonl",
                                        progress=False)
    from_folder = ImageIndex.from_records(micro_model, tmp_path / "ds", progress=False)
    assert list(from_file.metadata["caption"]) == [f"caption {i}" for i in range(4)]
    assert from_file.crs == "EPSG:32633" and len(from_folder) == 4
    with ShardWriter(tmp_path / "shards", max_samples=3) as writer:
        for record in records:
            writer.write(record, (tmp_path / "ds" / record.image).read_bytes())
    shards = ImageIndex.from_records(micro_model, tmp_path / "shards", progress=False)
    assert list(shards.metadata["member"]) == [f"k{i}.jpg" for i in range(4)]
    np.testing.assert_allclose(shards.embeddings, from_file.embeddings, atol=1e-5)
    assert source_kind(tmp_path / "shards") == "records"
    # A dataset's shards/ written per split: every split's folder is indexed.
    records[1].split = records[3].split = "train"
    write_shards(tmp_path / "ds", records, shard_size=3)
    per_split = ImageIndex.from_records(micro_model, tmp_path / "ds" / "shards", progress=False)
    assert list(per_split.metadata["key"]) == ["k1", "k3", "k0", "k2"]  # train, then test
    assert list(per_split.metadata["split"]) == ["train", "train", "test", "test"]
    assert source_kind(tmp_path / "ds" / "shards") == "records"


def test_mixed_crs_footprints_go_to_wgs84(micro_model: RsvlModel, tmp_path: Path) -> None:
    records = _records(tmp_path / "ds", count=2)
    records[1].crs, records[1].footprint = "EPSG:3857", [1000.0, 1000.0, 1100.0, 1100.0]
    write_records(tmp_path / "ds" / "records.jsonl", records)
    index = ImageIndex.from_records(micro_model, tmp_path / "ds", progress=False)
    assert index.crs == "EPSG:4326"


def test_model_mismatch_refused(micro_model: RsvlModel, image_folder: Path,
                                tmp_path: Path) -> None:
    index = ImageIndex.from_folder(micro_model, image_folder, progress=False)
    index.save(tmp_path / "idx")
    other = load_model("rsvl-tiny", device="cpu")
    for action in (lambda: index.search("a river", model=other),
                   lambda: ImageIndex.load(tmp_path / "idx", model=other)):
        with pytest.raises(InputError) as error:
            action()
        message = str(error.value)
        assert "was built with model rsvl-micro" in message and "\n" not in message


def test_empty_index_and_empty_sources(micro_model: RsvlModel, tmp_path: Path) -> None:
    empty = ImageIndex(np.zeros((0, 32), np.float32), pd.DataFrame({"key": []}),
                       model_info(micro_model), model=micro_model)
    with pytest.raises(InputError, match="is empty"):
        empty.search("anything")
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "readme.txt").write_text("no images")
    with pytest.raises(InputError, match="holds no images"):
        ImageIndex.from_folder(micro_model, tmp_path / "none")
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "records.jsonl").write_text("")
    with pytest.raises(InputError, match="holds no records"):
        ImageIndex.from_records(micro_model, tmp_path / "ds")


def test_wrong_index_folders_and_queries(micro_model: RsvlModel, image_folder: Path,
                                         tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not an rsvl image index"):
        ImageIndex.load(tmp_path)
    index = ImageIndex.from_folder(micro_model, image_folder, progress=False)
    index.save(tmp_path / "idx")
    (tmp_path / "idx" / "index.json").write_text("{broken")
    with pytest.raises(InputError, match="malformed JSON"):
        ImageIndex.load(tmp_path / "idx")
    index.save(tmp_path / "idx")
    (tmp_path / "idx" / "embeddings.npy").unlink()
    with pytest.raises(InputError, match="embeddings.npy is missing"):
        ImageIndex.load(tmp_path / "idx")
    with pytest.raises(InputError, match="query embedding has 3 values"):
        index.search(np.ones(3, np.float32))
    with pytest.raises(ConfigError, match="k must be at least 1"):
        index.search("x", k=0)
    with pytest.raises(ConfigError, match="unknown search backend"):
        ImageIndex.from_folder(micro_model, image_folder, progress=False, backend="annoy")
    with pytest.raises(ConfigError, match="dtype must be one of"):
        index.save(tmp_path / "x", dtype="int8")
    with pytest.raises(InputError, match="not found"):
        source_kind(tmp_path / "missing")


def _clustered(count: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((64, dim))
    points = centres[rng.integers(0, 64, count)] + 0.6 * rng.standard_normal((count, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("backend", ["ivf", "hnsw"])
def test_approximate_agrees_with_exact(micro_model: RsvlModel, backend: str,
                                       tmp_path: Path) -> None:
    embeddings = _clustered(3000)
    metadata = pd.DataFrame({"key": [f"i{i}" for i in range(len(embeddings))]})
    info = model_info(micro_model)
    exact = ImageIndex(embeddings, metadata, info, backend="exact", model=micro_model)
    approx = ImageIndex(embeddings, metadata, info, backend=backend, model=micro_model)
    queries = _clustered(50, seed=1)
    hits = [len(set(exact.search(q, k=10)["id"]) & set(approx.search(q, k=10)["id"]))
            for q in queries]
    assert np.mean(hits) / 10 >= 0.9
    approx.save(tmp_path / "approx")
    assert (tmp_path / "approx" / f"{backend}.faiss").is_file()
    loaded = ImageIndex.load(tmp_path / "approx", model=micro_model)
    assert loaded.backend_name == backend
    pd.testing.assert_frame_equal(loaded.search(queries[0], k=10), approx.search(queries[0], k=10))


def test_auto_backend_by_size(micro_model: RsvlModel) -> None:
    info = model_info(micro_model)
    small = ImageIndex(_clustered(100), pd.DataFrame({"key": range(100)}), info)
    assert small.backend_name == "exact"


def test_shared_cog_and_tiles(micro_model: RsvlModel, shared_data: Path) -> None:
    cog = ImageIndex.from_raster(micro_model, shared_data / "imagery" / "cogeo.tif",
                                 chip_size_m=150, progress=False)
    assert cog.crs == "EPSG:3857" and len(cog) >= 9
    tiles = shared_data / "sintra" / "tiles"
    assert source_kind(tiles) == "raster" and source_kind(shared_data / "whu_rs19_mini") == "folder"
    index = ImageIndex.from_source(micro_model, tiles, chip_size_m=150, progress=False)
    assert len(index) > 0 and index.search("a beach", k=2).crs == "EPSG:3857"
