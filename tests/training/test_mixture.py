"""The trainer reads a mixture file: weights, removals and splits honoured, exact resume."""

from __future__ import annotations

import io
import json
import math
import random
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rsvl.data.mixtures import load_mixture
from rsvl.data.records import RECORDS_FILE, Record, write_records
from rsvl.data.shards import ShardWriter
from rsvl.errors import ConfigError
from rsvl.training.augment import ImageTransform
from rsvl.training.config import AugmentConfig, load_config
from rsvl.training.data import MixtureStream
from rsvl.training.trainer import train

TINY = ["model.spec=rsvl-micro", "data.batch_size=8", "data.shuffle_buffer=4",
        "optim.warmup_steps=2", "run.log_every=1", "run.progress=false", "run.trackers=[]",
        "run.export=false", "run.log_ranks=true"]
# osm: 12 train chips (3 removed by de-duplication) + 4 test; rsicd: 8 train + 4 val.
SPLITS = {"osm": {"train": 12, "test": 4}, "rsicd": {"train": 8, "val": 4}}
REMOVED = ["osm_train_0", "osm_train_1", "osm_train_2"]
TRANSFORM = ImageTransform(16, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), AugmentConfig())
COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 200)}


def _jpeg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), COLOURS[colour]).save(buffer, format="JPEG")
    return buffer.getvalue()


def _dataset(root: Path, name: str, seed: int) -> None:
    """A built dataset: ``records.jsonl`` + ``shards/`` of 4, keys ``{name}_{split}_{i}``."""
    rng = random.Random(seed)
    records = []
    with ShardWriter(root / "shards", max_samples=4) as writer:
        for split, count in SPLITS[name].items():
            for index in range(count):
                colour = rng.choice(list(COLOURS))
                key = f"{name}_{split}_{index}"
                record = Record(key=key, image=f"{key}.jpg", source=name, licence="CC0",
                                split=split, captions=[f"a {colour} square", colour])
                writer.write(record, _jpeg(colour))
                records.append(record)
    write_records(root / RECORDS_FILE, records)


@pytest.fixture(scope="module")
def mixture_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("mixture")
    _dataset(base / "osm", "osm", seed=0)
    _dataset(base / "rsicd", "rsicd", seed=1)
    removed = {key: {"match_key": "eval_0", "method": "exact"} for key in REMOVED}
    (base / "osm" / "removed.json").write_text(json.dumps({"removed": removed}))
    path = base / "mix.json"
    path.write_text(json.dumps({"name": "demo", "datasets": [
        {"path": "osm", "weight": 1}, {"path": "rsicd", "weight": 3},
    ]}))
    return path


def _train(mixture: Path, out_dir: Path, *extra: str) -> dict[str, Any]:
    config = load_config(None, [*TINY, f"data.train={mixture}", f"run.out_dir={out_dir}", *extra])
    result = train(config)
    lines = (out_dir / "ranks" / "rank0.jsonl").read_text().splitlines()
    log = [json.loads(line) for line in lines]
    return {"losses": result.losses, "keys": {e["step"]: e["keys"] for e in log}}


def test_trainer_samples_both_datasets_by_weight_without_removed_or_other_splits(
    mixture_file: Path, tmp_path: Path
) -> None:
    run = _train(mixture_file, tmp_path / "run", "run.max_steps=6")
    keys = [key for step_keys in run["keys"].values() for key in step_keys]
    assert len(keys) == 6 * 8
    by_dataset = Counter(key.split("_")[0] for key in keys)
    assert by_dataset["osm"] > 0 and by_dataset["rsicd"] > by_dataset["osm"]  # weights 1 : 3
    assert not set(keys) & set(REMOVED)
    assert {key.split("_")[1] for key in keys} == {"train"}
    assert all(math.isfinite(loss) for loss in run["losses"].values())
    assert sorted(run["losses"]) == list(range(1, 7))


def test_resumed_mixture_run_repeats_the_uninterrupted_one(
    mixture_file: Path, tmp_path: Path
) -> None:
    """Mixture epochs are 17 // 8 = 2 steps, so 5 steps cross epochs; resume mid-epoch."""
    reference = _train(mixture_file, tmp_path / "ref", "run.max_steps=5")
    _train(mixture_file, tmp_path / "run", "run.max_steps=3")
    resumed = _train(mixture_file, tmp_path / "run", "run.max_steps=5")
    assert resumed["keys"] == reference["keys"]
    assert resumed["losses"] == {step: reference["losses"][step] for step in (4, 5)}


@pytest.mark.parametrize(("overrides", "message"), [
    (["data.split=val"], "a mixture file chooses splits per dataset"),
    (["data.source=shards"], "is a mixture file but data.source=shards"),
])
def test_ambiguous_mixture_config_is_one_line(
    mixture_file: Path, overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_config(None, [f"data.train={mixture_file}", *overrides])
    assert "\n" not in str(error.value)


def test_mixture_source_needs_a_json_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs data.train to be a mixture .json file"):
        load_config(None, [f"data.train={tmp_path}", "data.source=mixture"])


def _stream_keys(mixture_file: Path, rank: int, shuffle_buffer: int) -> list[str]:
    """Rank ``rank`` of 2's first 4 batches (one epoch) of the mixture, read by MixtureStream."""
    stream = MixtureStream(load_mixture(mixture_file), rank=rank, world_size=2, batch_size=8,
                           transform=TRANSFORM, tokenizer=list, seed=0, epoch_batches=4,
                           shuffle_buffer=shuffle_buffer)
    return [key for batch in islice(iter(stream), 4) for key in batch["keys"]]


@pytest.mark.parametrize("shuffle_buffer", [1, 100])
def test_mixture_stream_deals_shards_to_ranks_through_the_shuffle_buffer(
    mixture_file: Path, shuffle_buffer: int
) -> None:
    """Each rank owns whole shards (osm's 3 train shards, rsicd's 2: its test and val shards
    hold no train sample and are not dealt), so the ranks never share a sample, however often
    a small source wraps around; ``data.shuffle_buffer`` reshuffles each pass of a source."""
    ranks = [_stream_keys(mixture_file, rank, shuffle_buffer) for rank in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1])
    assert not (set(ranks[0]) | set(ranks[1])) & set(REMOVED)
    # rsicd (weight 3) has one 4-sample shard per rank: its draws go round that shard.
    rsicd = [key for key in ranks[0] if key.startswith("rsicd")]
    share = sorted(set(rsicd), key=lambda key: int(key.rsplit("_", 1)[1]))
    assert len(share) == 4 and len(rsicd) > 12
    in_stored_order = rsicd == (share * len(rsicd))[:len(rsicd)]
    assert in_stored_order is (shuffle_buffer == 1)
