"""WebDataset shards: round trips, sizes.json, interruption, truncation, webdataset reads them."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
import webdataset as wds
from PIL import Image

from rsvl.data.records import Record
from rsvl.data.shards import (
    ShardWriter,
    brace_pattern,
    iter_shard,
    list_shards,
    read_sizes,
    read_split_sizes,
    shard_name,
)
from rsvl.errors import ConfigError, InputError


def record(index: int) -> Record:
    return Record(key=f"chip-{index:03d}", image=f"images/chip-{index:03d}.jpg",
                  captions=[f"caption {index}", "second"], split="train", source="osm",
                  licence="CC0", tags={"natural": "beach"})


def jpeg(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (index * 20 % 256, 0, 0)).save(buffer, format="JPEG")
    return buffer.getvalue()


def write_samples(shard_dir, count: int, per_shard: int = 2) -> None:
    with ShardWriter(shard_dir, max_samples=per_shard) as writer:
        for index in range(count):
            writer.write(record(index), jpeg(index))


def test_round_trip_and_sizes(tmp_path):
    write_samples(tmp_path, 5)
    assert read_sizes(tmp_path) == {"00000.tar": 2, "00001.tar": 2, "00002.tar": 1}
    shards = list_shards(tmp_path)
    assert [p.name for p in shards] == ["00000.tar", "00001.tar", "00002.tar"]
    samples = [s for shard in shards for s in iter_shard(shard)]
    assert [s.key for s in samples] == [f"chip-{i:03d}" for i in range(5)]
    assert samples[3].image == jpeg(3) and samples[3].image_ext == "jpg"
    assert samples[3].caption == "caption 3"
    assert Record.from_dict(samples[3].record) == record(3)


def test_split_counts_per_shard(tmp_path):
    with ShardWriter(tmp_path, max_samples=3) as writer:
        for index, split in enumerate(["train", "test", "train", "val", "val"]):
            writer.write(dataclasses.replace(record(index), split=split), jpeg(index))
    assert read_split_sizes(tmp_path) == {"00000.tar": {"test": 1, "train": 2},
                                          "00001.tar": {"val": 2}}
    (tmp_path / "splits.json").unlink()
    assert read_split_sizes(tmp_path) is None  # folders written before split counts
    (tmp_path / "splits.json").write_text('{"00000.tar": 3}')
    with pytest.raises(InputError, match="splits.json: malformed split counts"):
        read_split_sizes(tmp_path)


def test_brace_pattern_and_names(tmp_path):
    assert shard_name(12) == "00012.tar"
    assert brace_pattern(tmp_path, 3) == f"{tmp_path}/{{00000..00002}}.tar"


def test_webdataset_reads_the_shards(tmp_path):
    write_samples(tmp_path, 3)
    dataset = wds.WebDataset(brace_pattern(tmp_path, 2), shardshuffle=False).decode("pil")
    samples = list(dataset)
    assert [s["__key__"] for s in samples] == ["chip-000", "chip-001", "chip-002"]
    assert samples[1]["txt"] == "caption 1"
    assert samples[1]["json"]["captions"] == ["caption 1", "second"]
    assert samples[1]["jpg"].size == (8, 8)


def test_exception_inside_writer_leaves_only_complete_shards(tmp_path):
    with pytest.raises(RuntimeError, match="stop"):
        with ShardWriter(tmp_path, max_samples=2) as writer:
            for index in range(3):
                writer.write(record(index), jpeg(index))
            raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000.tar", "sizes.json", "splits.json"]
    assert json.loads((tmp_path / "sizes.json").read_text()) == {"00000.tar": 2}
    assert len(list(iter_shard(tmp_path / "00000.tar"))) == 2


def test_resumed_writer_continues_after_existing_shards(tmp_path):
    write_samples(tmp_path, 2)
    with ShardWriter(tmp_path, max_samples=2, start_index=1) as writer:
        writer.write(record(7), jpeg(7))
    assert read_sizes(tmp_path) == {"00000.tar": 2, "00001.tar": 1}


def test_truncated_tar_is_an_input_error(tmp_path):
    write_samples(tmp_path, 2)
    shard = tmp_path / "00000.tar"
    shard.write_bytes(shard.read_bytes()[:700])
    with pytest.raises(InputError, match=r"00000.tar is corrupt or truncated"):
        list(iter_shard(shard))


def test_missing_and_malformed_shard_folders(tmp_path):
    with pytest.raises(InputError, match="is not an rsvl shard folder"):
        list_shards(tmp_path)
    (tmp_path / "sizes.json").write_text('{"00000.tar": 1')
    with pytest.raises(InputError, match="sizes.json: malformed JSON"):
        list_shards(tmp_path)
    (tmp_path / "sizes.json").write_text('{"00000.tar": 1}')
    with pytest.raises(InputError, match="00000.tar is listed in sizes.json but missing"):
        list_shards(tmp_path)
    with pytest.raises(InputError, match="shard not found"):
        list(iter_shard(tmp_path / "00009.tar"))
    with pytest.raises(ConfigError, match="shard size must be at least 1"):
        ShardWriter(tmp_path, max_samples=0)


def test_sample_without_record_is_rejected(tmp_path):
    import tarfile

    with tarfile.open(tmp_path / "00000.tar", "w") as tar:
        info = tarfile.TarInfo("lonely.jpg")
        data = jpeg(0)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(InputError, match="sample 'lonely' lacks an image or its .json record"):
        list(iter_shard(tmp_path / "00000.tar"))
