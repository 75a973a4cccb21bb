"""Streaming batches: no duplicates across ranks and workers, exact resume, broken inputs."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from rsvl.data.records import Record
from rsvl.data.shards import ShardWriter, iter_shard
from rsvl.errors import InputError
from rsvl.training.augment import ImageTransform
from rsvl.training.config import AugmentConfig
from rsvl.training.data import (
    CaptionTokens,
    ContrastiveStream,
    Unit,
    UnitCache,
    list_units,
    owned_batches,
    read_unit,
)

TRANSFORM = ImageTransform(16, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), AugmentConfig())


def _batches(units: list[Unit], rank: int = 0, world: int = 1, workers: int = 0,
             count: int = 4, **options: Any) -> list[dict[str, Any]]:
    options.setdefault("epoch_batches", 4)
    stream = ContrastiveStream(units, rank, world, 8, TRANSFORM, list, seed=3,
                               shuffle_buffer=10, **options)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers)
    batches = iter(loader)
    return [next(batches) for _ in range(count)]


def _keys(batches: list[dict[str, Any]]) -> list[str]:
    return [key for batch in batches for key in batch["keys"]]


@pytest.mark.parametrize("per_shard", [16, 32])  # 4 shards (one per slot) or 2 (sample split)
def test_ranks_and_workers_read_disjoint_samples(
    colour_shards: Callable[..., Path], per_shard: int
) -> None:
    units = list_units(colour_shards(samples=64, per_shard=per_shard))
    # An epoch is 64 samples / (2 ranks x 8) = 4 batches per rank.
    seen = [_keys(_batches(units, rank, world=2, workers=2)) for rank in (0, 1)]
    assert len(set(seen[0])) == len(seen[0]) == 32 and len(set(seen[1])) == 32
    assert not set(seen[0]) & set(seen[1])


def test_resume_skips_to_the_same_batches(colour_shards: Callable[..., Path]) -> None:
    units = list_units(colour_shards(samples=64, per_shard=16))
    # Epochs of 3 batches, 2 workers: resuming at batch 4 starts in the middle of epoch 1
    # (batches 3-5) with worker 1's batch 3 already consumed, then crosses into epoch 2.
    whole = _batches(units, workers=2, count=7, epoch_batches=3)
    resumed = _batches(units, workers=2, count=3, start_batch=4, epoch_batches=3)
    assert owned_batches(3, 4, 0, 2) == 0 and owned_batches(3, 4, 1, 2) == 1
    assert owned_batches(0, 3, 0, 2) == 2
    for expected, got in zip(whole[4:], resumed, strict=True):
        assert expected["keys"] == got["keys"] and expected["text"] == got["text"]
        assert torch.equal(expected["image"], got["image"])


def test_cached_passes_give_the_batches_read_from_disk(
    colour_shards: Callable[..., Path]
) -> None:
    units = list_units(colour_shards(samples=32, per_shard=16))
    # 12 batches of 8 over 32 samples: three passes, the last two from memory.
    from_disk = _batches(units, count=12, epoch_batches=12)
    cached = _batches(units, count=12, epoch_batches=12, cache_bytes=1 << 20)
    for expected, got in zip(from_disk, cached, strict=True):
        assert expected["keys"] == got["keys"] and expected["text"] == got["text"]
        assert torch.equal(expected["image"], got["image"])


def test_unit_cache_keeps_whole_units_within_its_budget(
    colour_shards: Callable[..., Path]
) -> None:
    first, second = list_units(colour_shards(samples=32, per_shard=16))
    unit_bytes = sum(len(s.image or b"") + sum(map(len, s.captions or []))
                     for s in read_unit(first))
    cache = UnitCache(max_bytes=unit_bytes + 10)
    assert [s.key for s in cache.read(first)] == [s.key for s in read_unit(first)]
    assert list(cache.units) == [first] and cache.used == unit_bytes
    list(cache.read(second))  # does not fit: read from disk, not kept
    partial = cache.read(first)
    next(partial)
    assert list(cache.units) == [first]
    first.path.unlink()  # a cached unit no longer touches its file
    assert len(list(cache.read(first))) == first.size
    abandoned = UnitCache(max_bytes=1 << 20)
    next(abandoned.read(second))  # a read stopped half-way caches nothing
    assert not abandoned.units


def test_caption_tokens_match_the_tokenizer_and_remember() -> None:
    import open_clip

    tokenizer = open_clip.get_tokenizer("RN50")
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> torch.Tensor:
        calls.append(texts)
        return tokenizer(texts)

    cached = CaptionTokens(counting)
    texts = ["a satellite image of farmland", "an aerial view of a golf course",
             "a satellite image of farmland"]
    assert torch.equal(cached(texts), tokenizer(texts))
    assert torch.equal(cached(texts[::-1]), tokenizer(texts[::-1]))
    assert calls == [texts[:2]]  # each distinct caption tokenised once


def test_caption_modes(colour_shards: Callable[..., Path]) -> None:
    units = list_units(colour_shards(samples=32, per_shard=32))
    first = [c for b in _batches(units, caption_choice="first") for c in b["text"]]
    assert all(c.startswith("a satellite image of") for c in first)
    sampled = [c for b in _batches(units) for c in b["text"]]
    assert {c.startswith("a satellite image of") for c in sampled} == {True, False}


def test_only_the_train_split_is_read(colour_shards: Callable[..., Path]) -> None:
    units = list_units(colour_shards(samples=32, per_shard=32, test_every=4))
    keys = set(_keys(_batches(units, count=3)))  # 24 train chips
    assert len(keys) == 24 and not {f"chip{i:04d}" for i in range(0, 32, 4)} & keys
    everything = set(_keys(_batches(units, count=4, split="")))
    assert len(everything) == 32


def test_units_count_only_the_training_split(colour_shards: Callable[..., Path]) -> None:
    shard_dir = colour_shards(samples=32, per_shard=8, test_every=4)
    assert [u.size for u in list_units(shard_dir, split="train")] == [6, 6, 6, 6]
    assert [u.size for u in list_units(shard_dir)] == [8, 8, 8, 8]
    with pytest.raises(InputError, match="holds no 'val'-split samples .*'test', 'train'"):
        list_units(shard_dir, split="val")
    (shard_dir / "splits.json").unlink()  # older folders: every sample counts
    assert [u.size for u in list_units(shard_dir, split="train")] == [8, 8, 8, 8]


def test_old_mixed_folder_warns_with_the_rewriting_command(
        colour_shards: Callable[..., Path], caplog: pytest.LogCaptureFixture) -> None:
    shard_dir = colour_shards(samples=32, per_shard=8, test_every=4)  # one folder, two splits
    with caplog.at_level("WARNING"):
        list_units(shard_dir, split="train")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert f"rewrite it with `rsvl build reshard {shard_dir}`" in warnings[0]


def _split_folder(folder: Path, split: str, count: int) -> list[str]:
    """``count`` grey chips of ``split`` in shards of 4; returns their keys."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(buffer, format="JPEG")
    keys = [f"{split}{index}" for index in range(count)]
    with ShardWriter(folder, max_samples=4) as writer:
        for key in keys:
            writer.write(Record(key=key, image=f"{key}.jpg", captions=["grey"], split=split,
                                source="t", licence="CC0"), buffer.getvalue())
    return keys


def test_per_split_layout_is_read_from_the_split_folder(tmp_path: Path) -> None:
    train = _split_folder(tmp_path / "shards" / "train", "train", 12)
    _split_folder(tmp_path / "shards" / "test", "test", 4)
    for path in (tmp_path / "shards", tmp_path / "shards" / "train"):
        units = list_units(path, split="train")
        assert [u.path.parent.name for u in units] == ["train"] * 3
        assert set(_keys(_batches(units, count=1, epoch_batches=1))) <= set(train)
    assert [u.path.parent.name for u in list_units(tmp_path / "shards", split="")] == [
        "train"] * 3 + ["test"]
    with pytest.raises(InputError, match=r"shards has no val shards \(it has train, test\)"):
        list_units(tmp_path / "shards", split="val")


def test_removed_keys_never_leave_the_stream(colour_shards: Callable[..., Path]) -> None:
    """The stream applies the run's sample filter (split and de-duplication removals)."""
    from rsvl.data.exclusions import training_filter

    shard_dir = colour_shards(samples=16, per_shard=16)
    (shard_dir / "removed.json").write_text('{"removed": {"chip0003": {}, "chip0007": {}}}')
    units = list_units(shard_dir)
    keys = _keys(_batches(units, count=4, epoch_batches=1,
                          sample_filter=training_filter(shard_dir, ["train"])))
    assert len(set(keys)) == 14 and not {"chip0003", "chip0007"} & set(keys)


def test_corrupt_samples_are_skipped_and_counted(colour_shards: Callable[..., Path]) -> None:
    units = list_units(colour_shards(samples=32, per_shard=32, corrupt=(2, 5, 7)))
    batches = _batches(units, count=3)  # 24 good samples: each pass meets all 3 corrupt ones
    assert sum(b["corrupt"] for b in batches) == 3
    assert not {"chip0002", "chip0005", "chip0007"} & set(_keys(batches))


def test_truncated_shard_is_counted_not_fatal(colour_shards: Callable[..., Path]) -> None:
    shard_dir = colour_shards(samples=32, per_shard=16)
    tar = shard_dir / "00001.tar"
    tar.write_bytes(tar.read_bytes()[:9000])
    batches = _batches(list_units(shard_dir), count=2)
    assert sum(b["corrupt"] for b in batches) >= 1


def test_missing_shard_is_an_error_naming_it(colour_shards: Callable[..., Path]) -> None:
    shard_dir = colour_shards(samples=32, per_shard=16)
    (shard_dir / "00001.tar").unlink()
    with pytest.raises(InputError, match="00001.tar"):
        list_units(shard_dir)
    with pytest.raises(InputError, match="shard folder not found"):
        list_units(shard_dir / "nope")


def test_parquet_copy_is_an_alternative_source(
    colour_shards: Callable[..., Path], tmp_path: Path
) -> None:
    samples = list(iter_shard(colour_shards(samples=24, per_shard=24) / "00000.tar"))
    table = pa.table({
        "key": [s.key for s in samples],
        "image": [{"bytes": s.image, "path": f"{s.key}.jpg"} for s in samples],
        "captions": [s.record["captions"] for s in samples],
        "split": ["train"] * len(samples),
    })
    path = tmp_path / "train.parquet"
    pq.write_table(table, path, row_group_size=8)
    units = list_units(path)
    assert [u.size for u in units] == [8, 8, 8]
    seen = [_keys(_batches(units, rank, world=2, count=1)) for rank in (0, 1)]
    assert not set(seen[0]) & set(seen[1])
    assert set(seen[0]) | set(seen[1]) <= {s.key for s in samples}


def _texts_by_key(batches: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(k, t) for b in batches for k, t in zip(b["keys"], b["text"], strict=True)]


def test_long_and_mixed_captions_draw_long_ones_deterministically(
    colour_shards: Callable[..., Path]
) -> None:
    # Chips 0, 4, 8... have no long descriptions: they fall back to short ones, counted.
    units = list_units(colour_shards(samples=32, per_shard=16, long_every=4))

    def lacks(key: str) -> bool:
        return int(key[4:]) % 4 == 0

    short = _texts_by_key(_batches(units))
    assert not any(t.startswith("A long") for _, t in short)
    long_batches = _batches(units, captions="long")
    assert all(t.startswith("A long") != lacks(k) for k, t in _texts_by_key(long_batches))
    assert [b["no_long"] for b in long_batches] == [
        [k for k in b["keys"] if lacks(k)] for b in long_batches]
    assert sum(len(b["no_long"]) for b in long_batches) > 0
    assert {k for k, _ in short} == {k for k, _ in _texts_by_key(long_batches)}  # same order
    mixed = _texts_by_key(_batches(units, captions="mixed"))
    assert mixed == _texts_by_key(_batches(units, captions="mixed"))  # seeded per visit
    with_long = [t.startswith("A long") for k, t in mixed if not lacks(k)]
    assert 0 < sum(with_long) < len(with_long)  # both kinds, p = 0.5
    assert not any(t.startswith("A long") for k, t in mixed if lacks(k))
    first = _texts_by_key(_batches(units, captions="long", caption_choice="first"))
    assert all(t.startswith("A long view") for k, t in first if not lacks(k))


def test_mixture_samples_carry_long_captions() -> None:
    from rsvl.data.shards import ShardSample
    from rsvl.training.data import _raw_sample

    record = {"captions": ["short"], "split": "train", "extra": {"long_captions": ["Long."]}}
    assert _raw_sample(ShardSample("k", b"x", "jpg", record)).long_captions == ["Long."]
    record["extra"] = {"long_captions": "not a list"}  # malformed: no long ones, not corrupt
    sample = _raw_sample(ShardSample("k", b"x", "jpg", record))
    assert (sample.captions, sample.long_captions) == (["short"], [])
