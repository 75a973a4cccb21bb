"""Shards read by open_clip's own loader, Parquet loaded by datasets, GeoParquet footprints."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest

from rsvl.builders.export import write_footprints, write_parquet, write_shards
from rsvl.data.records import Record
from rsvl.data.shards import brace_pattern, iter_shard, list_shards


@pytest.fixture
def dataset(tmp_path: Path, make_dataset: Callable[..., list[Record]]) -> list[Record]:
    return make_dataset(tmp_path, 7)


def _open_clip_loader(shard_dir: Path, count: int, is_train: bool):  # type: ignore[no-untyped-def]
    """open_clip's own WebDataset loader, as ``--dataset-type webdataset`` builds it."""
    import torch
    from open_clip import tokenize
    from open_clip_train.data import get_wds_dataset

    pattern = brace_pattern(shard_dir, count)
    args = argparse.Namespace(
        train_data=pattern, val_data=pattern, train_num_samples=None, val_num_samples=None,
        dataset_resampled=False, train_data_upsampling_factors=None, seed=0, workers=1,
        world_size=1, batch_size=7)

    def to_tensor(image: object) -> torch.Tensor:
        return torch.tensor(list(image.getdata()), dtype=torch.uint8)  # type: ignore[attr-defined]

    return get_wds_dataset(args, to_tensor, is_train=is_train, tokenizer=tokenize)


def test_shards_read_by_open_clip_webdataset_loader(tmp_path: Path,
                                                    dataset: list[Record]) -> None:
    from open_clip_train.data import get_dataset_size

    assert write_shards(tmp_path, dataset, shard_size=3) == 3
    shards = list_shards(tmp_path / "shards")
    assert [p.name for p in shards] == ["00000.tar", "00001.tar", "00002.tar"]
    assert [s.key for p in shards for s in iter_shard(p)] == [r.key for r in dataset]
    assert get_dataset_size(brace_pattern(tmp_path / "shards", 3)) == (7, 3)  # sizes.json
    info = _open_clip_loader(tmp_path / "shards", 3, is_train=False)
    images, texts = next(iter(info.dataloader))
    assert images.shape == (7, 32 * 32, 3) and texts.shape == (7, 77)


def test_open_clip_training_pipeline_reads_shards(tmp_path: Path,
                                                  dataset: list[Record]) -> None:
    write_shards(tmp_path, dataset, shard_size=3)
    info = _open_clip_loader(tmp_path / "shards", 3, is_train=True)
    assert info.dataloader.num_samples == 7
    images, _ = next(iter(info.dataloader))
    assert images.shape == (7, 32 * 32, 3)


def test_shard_rebuild_removes_stale_shards(tmp_path: Path, dataset: list[Record]) -> None:
    write_shards(tmp_path, dataset, shard_size=2)
    write_shards(tmp_path, dataset[:2], shard_size=2)
    assert [p.name for p in (tmp_path / "shards").glob("*.tar")] == ["00000.tar"]


def test_parquet_loads_with_image_feature(tmp_path: Path, dataset: list[Record]) -> None:
    import datasets

    counts = write_parquet(tmp_path, dataset)
    assert counts == {"train": 3, "val": 2, "test": 2}
    files = {s: str(tmp_path / "parquet" / f"{s}.parquet") for s in counts}
    loaded = datasets.load_dataset("parquet", data_files=files,
                                   cache_dir=str(tmp_path / "hf-cache"))
    assert isinstance(loaded["train"].features["image"], datasets.Image)
    row = loaded["train"][1]
    assert row["key"] == "fixture-way-3" and row["image"].size == (32, 32)
    assert row["captions"] == dataset[3].captions
    assert json.loads(row["tags"]) == dataset[3].tags


def test_footprints_geoparquet(tmp_path: Path, dataset: list[Record]) -> None:
    write_footprints(tmp_path, dataset)
    frame = gpd.read_parquet(tmp_path / "footprints.parquet")
    assert frame.crs.to_epsg() == 4326
    assert list(frame["key"]) == [r.key for r in dataset]
    lon, lat = frame.geometry.iloc[0].centroid.coords[0]
    assert -10 < lon < -8 and 38 < lat < 40  # UTM 29N near Portugal
