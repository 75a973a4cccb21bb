"""Shards per split read by open_clip's own loader and trainer, reshard, Parquet, footprints."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest

from rsvl.builders.export import reshard, write_footprints, write_parquet, write_shards
from rsvl.data.records import Record, read_records
from rsvl.data.shards import (
    ShardWriter,
    brace_pattern,
    iter_shard,
    list_shards,
    mixed_layout_warning,
    mixed_splits,
    read_sizes,
    split_folders,
)
from rsvl.errors import InputError


@pytest.fixture
def dataset(tmp_path: Path, make_dataset: Callable[..., list[Record]]) -> list[Record]:
    return make_dataset(tmp_path, 7)


def _open_clip_loader(shard_dir: Path, count: int, is_train: bool,  # type: ignore[no-untyped-def]
                      batch_size: int = 3):
    """open_clip's own WebDataset loader, as ``--dataset-type webdataset`` builds it."""
    import torch
    from open_clip import tokenize
    from open_clip_train.data import get_wds_dataset

    pattern = brace_pattern(shard_dir, count)
    args = argparse.Namespace(
        train_data=pattern, val_data=pattern, train_num_samples=None, val_num_samples=None,
        dataset_resampled=False, train_data_upsampling_factors=None, seed=0, workers=1,
        world_size=1, batch_size=batch_size)

    def to_tensor(image: object) -> torch.Tensor:
        return torch.tensor(list(image.getdata()), dtype=torch.uint8)  # type: ignore[attr-defined]

    return get_wds_dataset(args, to_tensor, is_train=is_train, tokenizer=tokenize)


def test_shards_are_written_per_split_and_read_by_open_clip_loader(
        tmp_path: Path, dataset: list[Record]) -> None:
    from open_clip_train.data import get_dataset_size

    assert write_shards(tmp_path, dataset, shard_size=2) == {"train": 2, "val": 1, "test": 1}
    for split in ("train", "val", "test"):
        samples = [s for p in list_shards(tmp_path / "shards" / split) for s in iter_shard(p)]
        assert [s.key for s in samples] == [r.key for r in dataset if r.split == split]
        assert {s.record["split"] for s in samples} == {split}
    train = tmp_path / "shards" / "train"
    assert get_dataset_size(brace_pattern(train, 2)) == (3, 2)  # its own sizes.json
    info = _open_clip_loader(train, 2, is_train=False)
    images, texts = next(iter(info.dataloader))
    assert images.shape == (3, 32 * 32, 3) and texts.shape == (3, 77)


def test_open_clip_training_pipeline_reads_the_training_shards(
        tmp_path: Path, dataset: list[Record]) -> None:
    shards = write_shards(tmp_path, dataset, shard_size=2)
    info = _open_clip_loader(tmp_path / "shards" / "train", shards["train"], is_train=True)
    assert info.dataloader.num_samples == 3
    images, _ = next(iter(info.dataloader))
    assert images.shape == (3, 32 * 32, 3)


def test_shard_rebuild_removes_stale_and_old_layout_shards(tmp_path: Path,
                                                           dataset: list[Record]) -> None:
    old = tmp_path / "shards"
    with ShardWriter(old, max_samples=4) as writer:  # the old layout: every split in one
        for record in dataset:
            writer.write(record, (tmp_path / record.image).read_bytes())
    write_shards(tmp_path, dataset, shard_size=2)
    write_shards(tmp_path, dataset[:2], shard_size=2)
    assert sorted(p.relative_to(old).as_posix() for p in old.rglob("*.tar")) == sorted(
        {f"{r.split}/00000.tar" for r in dataset[:2]})


def _old_layout(root: Path, records: list[Record], shard_size: int) -> None:
    with ShardWriter(root / "shards", max_samples=shard_size) as writer:
        for record in records:
            writer.write(record, (root / record.image).read_bytes())


def test_reshard_rewrites_an_old_folder_as_a_build_writes_it(
        tmp_path: Path, dataset: list[Record]) -> None:
    built = tmp_path / "built"
    shutil.copytree(tmp_path, built, ignore=shutil.ignore_patterns("built"))
    write_shards(built, dataset, shard_size=2)
    old = tmp_path / "shards"
    _old_layout(tmp_path, dataset, shard_size=2)
    assert mixed_splits(old) == ["test", "train", "val"]
    assert "rewrite it with `rsvl build reshard" in str(mixed_layout_warning(old))
    assert reshard(tmp_path) == {"train": 2, "val": 1, "test": 1}
    files = sorted(p.relative_to(old).as_posix() for p in old.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(built / "shards").as_posix()
                           for p in (built / "shards").rglob("*") if p.is_file())
    for name in files:  # byte for byte what a build writes
        assert (old / name).read_bytes() == (built / "shards" / name).read_bytes()
    assert not list(tmp_path.glob(".shards*"))
    with pytest.raises(InputError, match="already written per split"):
        reshard(tmp_path)


def test_reshard_command_prints_the_open_clip_pattern(
        tmp_path: Path, dataset: list[Record], capsys: pytest.CaptureFixture[str]) -> None:
    from rsvl.cli import main

    _old_layout(tmp_path, dataset, shard_size=4)
    assert main(["build", "reshard", str(tmp_path / "shards")]) == 0
    output = capsys.readouterr().out
    pattern = f"{tmp_path}/shards/train/{{00000..00000}}.tar"
    assert f'--train-data "{pattern}" --train-num-samples 3' in output
    assert split_folders(tmp_path / "shards").keys() == {"train", "val", "test"}


@pytest.fixture(scope="module")
def region_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The synthetic region built by ``rsvl build captions`` (its printed output too)."""
    from rsvl.synth import generate_region

    root = tmp_path_factory.mktemp("region")
    region = generate_region(root / "region", seed=0, size_m=1000, tiles=False)
    command = [sys.executable, "-m", "rsvl", "build", "captions", "--osm",
               str(region.osm_path), "--imagery", str(region.orthophoto_path), "--out",
               str(root / "data"), "--source", "synthetic", "--licence", "CC0-1.0",
               "--chip-size", "128", "--split-cell-m", "400", "--partition-px", "500",
               "--shard-size", "16"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return root / "data", result.stdout


def test_caption_build_training_shards_hold_no_val_or_test_sample(
        region_build: tuple[Path, str]) -> None:
    root, _ = region_build
    splits = {r.key: r.split for r in read_records(root / "records.jsonl")}
    assert "train" in splits.values() and len(set(splits.values())) >= 2  # something to leak
    for split in ("train", "val", "test"):
        folder = root / "shards" / split
        if not folder.exists():
            continue
        listed = read_sizes(folder)
        for tar_path in sorted(folder.glob("*.tar")):  # every tar, not only the listed ones
            with tarfile.open(tar_path) as tar:
                keys = {m.name.partition(".")[0] for m in tar.getmembers()}
                records = [json.loads(tar.extractfile(m).read())  # type: ignore[union-attr]
                           for m in tar.getmembers() if m.name.partition(".")[2] == "json"]
            assert {splits[k] for k in keys} == {split}, tar_path
            assert {r["split"] for r in records} == {split}
            assert listed[tar_path.name] == len(keys)
    manifest = json.loads((root / "manifest.json").read_text())
    count = manifest["shards"]["train"]
    assert manifest["open_clip"] == {
        "train_data": f"{root}/shards/train/{{00000..{count - 1:05d}}}.tar",
        "train_num_samples": sum(s == "train" for s in splits.values()),
        "dataset_type": "webdataset"}


@pytest.mark.slow
def test_open_clip_trainer_trains_on_the_printed_pattern(
        region_build: tuple[Path, str], tmp_path: Path) -> None:
    """``python -m open_clip_train.main`` as it is, on the pattern the build printed."""
    from rsvl.models import export_model, load_clip

    root, output = region_build
    line = next(line for line in output.splitlines() if line.startswith("open_clip: "))
    flags = shlex.split(line.removeprefix("open_clip: "))
    samples = int(flags[flags.index("--train-num-samples") + 1])
    loaded = load_clip("rsvl-micro", device="cpu")
    model = export_model(loaded.model, str(loaded.arch), tmp_path / "micro")  # open_clip layout
    command = [sys.executable, "-m", "open_clip_train.main", *flags,
               "--model", f"local-dir:{model}", "--batch-size", "8", "--epochs", "1",
               "--workers", "0", "--lr", "1e-4", "--warmup", "1", "--logs", str(tmp_path),
               "--name", "oc", "--save-frequency", "0", "--report-to", "",
               "--log-every-n-steps", "1", "--device", "cpu"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, OMP_NUM_THREADS="1"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    steps = re.findall(r"Train Epoch: 0 \[\s*(\d+)/(\d+)", result.stderr + result.stdout)
    # open_clip rounds an epoch up to whole batches (get_wds_dataset: math.ceil) and logs it
    epoch = math.ceil(samples / 8) * 8
    assert steps and steps[-1] == (str(epoch), str(epoch))


def test_parquet_loads_with_image_feature(tmp_path: Path, dataset: list[Record]) -> None:
    import datasets

    long = ["A field in the top left. A track runs along the bottom edge.", "Two fields."]
    dataset[3].extra["long_captions"] = long
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
    assert row["long_captions"] == long and loaded["train"][0]["long_captions"] == []


def test_parquet_round_trip_carries_long_captions(tmp_path: Path, dataset: list[Record]) -> None:
    from rsvl.training.data import list_units, read_unit

    dataset[0].extra["long_captions"] = ["A farmland field fills the chip. It is large."]
    write_parquet(tmp_path, dataset)
    units = list_units(tmp_path / "parquet" / "train.parquet")
    samples = {s.key: s for unit in units for s in read_unit(unit)}
    assert samples["fixture-way-0"].long_captions == dataset[0].extra["long_captions"]
    assert samples["fixture-way-3"].long_captions == []
    assert samples["fixture-way-0"].captions == dataset[0].captions


def test_footprints_geoparquet(tmp_path: Path, dataset: list[Record]) -> None:
    write_footprints(tmp_path, dataset)
    frame = gpd.read_parquet(tmp_path / "footprints.parquet")
    assert frame.crs.to_epsg() == 4326
    assert list(frame["key"]) == [r.key for r in dataset]
    lon, lat = frame.geometry.iloc[0].centroid.coords[0]
    assert -10 < lon < -8 and 38 < lat < 40  # UTM 29N near Portugal


def test_training_reads_region_pairs_only_when_asked(tmp_path: Path, dataset: list[Record]) -> None:
    from rsvl.training.data import UnitCache, list_units, read_unit

    pairs = [{"osm_id": "way/0", "phrase": "farmland", "box": [0, 0, 2, 2], "mask": "x"}]
    dataset[0].extra["regions"] = pairs
    write_parquet(tmp_path, dataset)
    write_shards(tmp_path, dataset, shard_size=10)
    for source in (tmp_path / "parquet" / "train.parquet", tmp_path / "shards" / "train"):
        units = list_units(source)
        wanted = {s.key: s.regions for unit in units for s in read_unit(unit, regions=True)}
        assert json.loads(wanted["fixture-way-0"] or "") == pairs
        # With the region loss off they are neither read from Parquet nor kept in the cache.
        assert {s.regions for unit in units for s in read_unit(unit)} == {None}
        assert {s.regions for unit in units for s in UnitCache(1 << 20).read(unit)} == {None}
