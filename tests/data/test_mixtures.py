"""Mixtures: resolve datasets to shards and weights, sample deterministically, skip removals."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pytest
from PIL import Image

from rsvl.builders.importers import import_dataset
from rsvl.data.mixtures import Mixture, MixtureSource, iter_mixture, iter_source, load_mixture
from rsvl.data.records import RECORDS_FILE, Record, read_records, write_records
from rsvl.data.shards import ShardSample, ShardWriter
from rsvl.errors import ConfigError, InputError


def folder_dataset(root: Path, counts: dict[str, int], seed: int, scene) -> None:
    """A class-folder dataset imported with ``counts`` images per split (split folders)."""
    for split, count in counts.items():
        folder = root / "src" / split / "forest"
        folder.mkdir(parents=True)
        for index in range(count):
            scene(seed + index, size=48).save(folder / f"{index}.jpg")
    import_dataset("folder", root / "src", root, name=root.name, licence="CC0", shard_size=2)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, scene) -> Path:
    base = tmp_path_factory.mktemp("mix")
    folder_dataset(base / "osm", {"train": 6, "test": 2}, seed=0, scene=scene)
    folder_dataset(base / "rsicd", {"train": 3, "val": 2}, seed=50, scene=scene)
    removed = {"removed": {"train_forest_0": {"match_key": "x", "method": "exact"}}}
    (base / "osm" / "removed.json").write_text(json.dumps(removed))
    return base


def write_mixture(base: Path, entries: list, name: str = "mix.json") -> Path:
    path = base / name
    path.write_text(json.dumps({"name": "demo", "datasets": entries}))
    return path


def test_mixture_resolves_shards_weights_splits_and_removals(datasets):
    mixture = load_mixture(write_mixture(datasets, [
        {"path": "osm", "weight": 3},
        {"path": "rsicd", "weight": 1, "splits": ["train", "val"], "name": "RSICD"},
    ]))
    osm, rsicd = mixture.sources
    assert mixture.name == "demo"
    assert (osm.name, rsicd.name) == ("osm", "RSICD")
    # Only the sampled splits' folders are read: osm's train shards, rsicd's train and val.
    assert [p.name for p in osm.shards] == ["00000.tar", "00001.tar", "00002.tar"]
    assert all(p.parent == datasets / "osm" / "shards" / "train" for p in osm.shards)
    assert [p.parent.name for p in rsicd.shards] == ["train", "train", "val"]
    assert (osm.counts.other_split, osm.counts.removed) == (2, 1)
    assert (osm.probability, rsicd.probability) == (0.75, 0.25)
    assert osm.excluded == {"train_forest_0"}
    assert (osm.num_samples, rsicd.num_samples, mixture.num_samples) == (5, 5, 10)
    assert osm.accepts({"key": "train_forest_1", "split": "train"})
    assert not osm.accepts({"key": "train_forest_0", "split": "train"})
    assert not osm.accepts({"key": "test_forest_0", "split": "test"})


def test_sampling_is_deterministic_weighted_and_filtered(datasets):
    mixture = load_mixture(write_mixture(datasets, [
        {"path": "osm", "weight": 3}, {"path": "rsicd", "weight": 1},
    ]))
    first = [s.record["source"] + "/" + s.key for s in islice(iter_mixture(mixture, seed=7), 400)]
    again = [s.record["source"] + "/" + s.key for s in islice(iter_mixture(mixture, seed=7), 400)]
    other = [s.record["source"] + "/" + s.key for s in islice(iter_mixture(mixture, seed=8), 400)]
    assert first == again and first != other
    per_source = Counter(item.split("/")[0] for item in first)
    assert 0.68 < per_source["osm"] / 400 < 0.82
    seen = set(first)
    assert "osm/train_forest_0" not in seen  # removed by de-duplication
    assert not any("test_" in item or "val_" in item for item in seen)  # train split only
    assert {f"osm/train_forest_{i}" for i in range(1, 6)} <= seen


def test_ranks_see_disjoint_samples(datasets):
    mixture = load_mixture(write_mixture(datasets, [{"path": "osm"}]))
    ranks = [{s.key for s in islice(iter_mixture(mixture, rank=r, world_size=2), 2)}
             for r in (0, 1)]
    assert not ranks[0] & ranks[1]
    with pytest.raises(ConfigError, match="rank 2 is outside 0..1"):
        next(iter_mixture(mixture, rank=2, world_size=2))


@pytest.mark.parametrize(("content", "error", "message"), [
    ('{"datasets": [', InputError, r"mix.json: malformed JSON at line 1"),
    ('{"datasets": []}', ConfigError, r"non-empty 'datasets' list"),
    ('{"datasets": [{"weight": 1}]}', ConfigError, r"datasets\[0\]: each dataset needs a 'path'"),
    ('{"datasets": [{"path": "osm", "weight": 0}]}', ConfigError, r"weight must be a positive"),
    ('{"datasets": [{"path": "osm", "splits": ["dev"]}]}', ConfigError, r"splits must be"),
    ('{"datasets": [{"path": "osm", "wieght": 2}]}', ConfigError, r"unknown field 'wieght'"),
    ('{"datasets": [{"path": "nowhere"}]}', InputError, r"dataset folder not found: .*nowhere"),
    ('{"datasets": [{"path": "osm", "splits": ["val"]}]}', ConfigError,
     r"has no samples in splits \['val'\]"),
])
def test_bad_mixture_files_are_one_line(datasets, content, error, message):
    path = datasets / "mix.json"
    path.write_text(content)
    with pytest.raises(error, match=message):
        load_mixture(path)


def test_missing_mixture_file(tmp_path):
    with pytest.raises(InputError, match="mixture file not found"):
        load_mixture(tmp_path / "absent.json")


def test_malformed_removed_list_names_the_file(tmp_path, scene):
    broken = tmp_path / "broken"
    folder_dataset(broken, {"train": 1}, seed=90, scene=scene)
    (broken / "removed.json").write_text("[1, 2]")
    with pytest.raises(InputError, match=r"broken/removed.json is malformed"):
        load_mixture(write_mixture(tmp_path, [{"path": "broken"}]))


@pytest.mark.slow
def test_train_a_few_steps_on_a_mixture(datasets):
    """A tiny CLIP takes three optimiser steps on batches drawn from the mixture."""
    import torch
    from open_clip.loss import ClipLoss
    from PIL import Image

    from rsvl.models import load_clip

    torch.manual_seed(0)
    loaded = load_clip("rsvl-micro", device="cpu")
    model = loaded.model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    stream = iter_mixture(load_mixture(write_mixture(datasets, [
        {"path": "osm", "weight": 2}, {"path": "rsicd", "weight": 1}])), seed=0)
    losses = []
    for _ in range(3):
        batch = list(islice(stream, 4))
        images = torch.stack([loaded.preprocess_train(Image.open(io.BytesIO(s.image)))
                              for s in batch])
        texts = loaded.tokenizer([s.caption for s in batch])
        image_features, text_features, scale = model(images, texts)[:3]
        loss = ClipLoss()(image_features, text_features, scale)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def old_layout(root: Path, shard_size: int = 2) -> None:
    """Rewrite a dataset's shards as builds before per-split folders did: every split in one."""
    records = list(read_records(root / RECORDS_FILE))
    shutil.rmtree(root / "shards")
    with ShardWriter(root / "shards", max_samples=shard_size) as writer:
        for record in records:
            writer.write(record, (root / record.image).read_bytes(), Path(record.image).suffix[1:])


def _relabel_test_as_val(root: Path) -> None:
    """records.jsonl says the test chips are val chips; the shards still say test."""
    records = [json.loads(line) for line in (root / "records.jsonl").read_text().splitlines()]
    for record in records:
        record["split"] = "val" if record["split"] == "test" else record["split"]
    (root / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_shards_without_the_listed_samples_are_an_error_not_a_hang(datasets):
    stale = datasets / "stale"
    shutil.copytree(datasets / "osm", stale)
    _relabel_test_as_val(stale)
    stale_file = write_mixture(datasets, [{"path": "stale", "splits": ["val"]}], name="stale.json")
    with pytest.raises(InputError, match=r"has no val shards \(it has train, test\)"):
        load_mixture(stale_file)
    # An old mixed-split folder is only found wanting while it is read.
    shutil.rmtree(stale)
    shutil.copytree(datasets / "osm", stale)
    old_layout(stale)
    _relabel_test_as_val(stale)
    mixture = load_mixture(stale_file)
    assert mixture.num_samples == 2
    with pytest.raises(InputError, match="stale .*shards hold no val sample although its "
                                         "records list 2"):
        next(iter_mixture(mixture))


def test_old_mixed_folder_is_sampled_by_split_with_a_warning(datasets, caplog):
    old = datasets / "old"
    shutil.copytree(datasets / "osm", old)
    old_layout(old)
    mixture = load_mixture(write_mixture(datasets, [{"path": "old"}], name="old.json"))
    assert f"rewrite it with `rsvl build reshard {old / 'shards'}`" in caplog.text
    # The shard its splits.json lists with test chips only is not read (nor dealt to a rank).
    assert [p.name for p in mixture.sources[0].shards] == ["00001.tar", "00002.tar", "00003.tar"]
    keys = {s.key for s in islice(iter_mixture(mixture), 40)}
    assert keys == {f"train_forest_{i}" for i in range(1, 6)}  # train only, removal applied


# A mixture source with more shards than ranks: 8 train shards of 5 samples, keys s{shard}_{i}.
SHARDS, PER_SHARD = 8, 5
REMOVED = {"s0_0", "s5_4"}
ACCEPTED = {f"s{s}_{i}" for s in range(SHARDS) for i in range(PER_SHARD)} - REMOVED


def shard_set(root: Path, shards: int, per_shard: int, removed: set[str]) -> None:
    """A built dataset in the per-split layout (``shards/train``) with ``removed.json``."""
    image = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 120, 60)).save(image, format="JPEG")
    records = []
    with ShardWriter(root / "shards" / "train", max_samples=per_shard) as writer:
        for shard in range(shards):
            for index in range(per_shard):
                key = f"s{shard}_{index}"
                record = Record(key=key, image=f"{key}.jpg", captions=["a field"], split="train",
                                source=root.name, licence="CC0")
                writer.write(record, image.getvalue())
                records.append(record)
    write_records(root / RECORDS_FILE, records)
    entries = {key: {"match_key": "eval_0", "method": "exact"} for key in removed}
    (root / "removed.json").write_text(json.dumps({"removed": entries}))


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> MixtureSource:
    base = tmp_path_factory.mktemp("many")
    shard_set(base / "many", SHARDS, PER_SHARD, REMOVED)
    source = load_mixture(write_mixture(base, [{"path": "many"}])).sources[0]
    assert len(source.shards) == SHARDS and source.num_samples == len(ACCEPTED)
    return source


def shard_of(key: str) -> int:
    return int(key[1:].split("_")[0])


def passes(stream: Iterator[ShardSample], count: int) -> list[list[str]]:
    """The stream's first ``count`` passes, each a list of keys: a pass ends where a key comes
    again (each pass visits every sample of the rank's share once)."""
    keys = [s.key for s in islice(stream, count * len(ACCEPTED))]
    length = next(i for i, key in enumerate(keys) if key in keys[:i])
    return [keys[p * length:(p + 1) * length] for p in range(count)]


def test_dealt_ranks_read_disjoint_shards_whose_union_is_every_accepted_sample(many):
    shards, union = [], []
    for rank in (0, 1):
        first, second = passes(iter_source(many, seed=3, rank=rank, world_size=2), 2)
        assert sorted(first) == sorted(second) and len(set(first)) == len(first)
        shards.append({shard_of(key) for key in first})
        union += first
    # Each rank owns whole shards, the same ones pass after pass; together every sample once.
    assert len(shards[0]) == len(shards[1]) == SHARDS // 2 and not shards[0] & shards[1]
    assert sorted(union) == sorted(ACCEPTED)
    assert not set(union) & REMOVED


def test_a_rank_never_parses_the_other_ranks_shards(many, tmp_path):
    """A truncated shard breaks only the rank it is dealt to: the other never opens it (read
    as before, every rank parsing every shard, both would fail)."""
    broken = tmp_path / "broken"
    shutil.copytree(many.root, broken)
    tar = broken / "shards" / "train" / "00003.tar"
    tar.write_bytes(tar.read_bytes()[:1500])
    source = load_mixture(write_mixture(tmp_path, [{"path": "broken"}])).sources[0]
    failed, read = [], {}
    for rank in (0, 1):
        try:
            read[rank] = [s.key for s in islice(iter_source(source, 3, rank, 2), 100)]
        except InputError as error:
            assert "00003.tar is corrupt or truncated" in str(error)
            failed.append(rank)
    assert len(failed) == 1 and len(read) == 1
    keys = next(iter(read.values()))
    assert len(keys) == 100 and 3 not in {shard_of(key) for key in keys}


def in_shard_order(keys: list[str]) -> bool:
    """Whether keys come shard by shard, each shard's in stored order."""
    order = [(shard_of(key), int(key.split("_")[1])) for key in keys]
    shards = [shard for shard, _ in order]
    runs = [shard for i, shard in enumerate(shards) if i == 0 or shard != shards[i - 1]]
    return len(runs) == len(set(runs)) and all(
        a < b for a, b in zip(order, order[1:], strict=False) if a[0] == b[0])


@pytest.mark.parametrize(("buffer", "ordered"), [(1, True), (1000, False)])
def test_the_shuffle_buffer_shuffles_each_pass(many, buffer, ordered):
    mixture = Mixture("one", many.root, (many,))
    for world_size in (1, 2):
        first, second = passes(iter_mixture(mixture, 5, 0, world_size, buffer), 2)
        assert in_shard_order(first[:20]) is ordered
        assert sorted(first) == sorted(second) and first != second  # reshuffled, each once


@pytest.mark.parametrize("world_size", [2, 3, 9])
def test_one_pass_over_all_ranks_is_the_accepted_set(many, world_size):
    """Dealt shards (2, 3 ranks) or, with more ranks than shards, every world_size-th sample."""
    mixture = Mixture("one", many.root, (many,))
    union = []
    for rank in range(world_size):
        stream = iter_mixture(mixture, seed=11, rank=rank, world_size=world_size)
        if world_size > SHARDS:  # the pass is the rank's every world_size-th position
            union += [s.key for s in islice(stream, len(range(rank, len(ACCEPTED), world_size)))]
        else:
            union += passes(stream, 1)[0]
    assert sorted(union) == sorted(ACCEPTED)  # no duplicates, nothing missing, no removals


def test_a_rank_dealt_only_emptied_shards_is_an_error_not_a_hang(tmp_path):
    """4 shards, 4 ranks, every sample of one shard removed: its rank has nothing to read."""
    shard_set(tmp_path / "lopsided", 4, 2, {"s2_0", "s2_1"})
    source = load_mixture(write_mixture(tmp_path, [{"path": "lopsided"}])).sources[0]
    failed = []
    for rank in range(4):
        try:
            assert len(list(islice(iter_source(source, 0, rank, 4), 5))) == 5
        except InputError as error:
            failed.append(str(error))
    assert len(failed) == 1
    assert re.search(r"lopsided .*: the 1 of its 4 shards dealt to reader \d of 4 hold none of "
                     r"its accepted samples; use fewer processes or data.workers", failed[0])
