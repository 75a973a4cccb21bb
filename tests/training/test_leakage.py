"""No leakage on any training path: a planted evaluation image, once ``rsvl build dedup`` found
it, never reaches a training batch, through shards, Parquet or a mixture, on 1 and 2 ranks; nor
does a val/test sample. Each run prints the keys it saw (``pytest -s`` shows them)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rsvl.builders.importers import import_dataset
from rsvl.cli import main as cli_main
from rsvl.training.config import load_config
from rsvl.training.launch import accelerate_command, launch_environment
from rsvl.training.trainer import train

TINY = ["model.spec=rsvl-micro", "data.batch_size=4", "data.shuffle_buffer=4",
        "optim.warmup_steps=2", "run.log_every=1", "run.progress=false", "run.trackers=[]",
        "run.export=false", "run.log_ranks=true", "run.max_steps=6"]
PLANTED = "train_scene_5"  # the training copy of the evaluation image test_scene_0
TRAIN_KEYS = {f"train_scene_{i}" for i in range(12)}


def _folder_set(root: Path, images: dict[str, list[Any]]) -> None:
    """Import a class-folder dataset: ``images[split]`` saved as ``src/split/scene/i.png``."""
    for split, pictures in images.items():
        folder = root / "src" / split / "scene"
        folder.mkdir(parents=True)
        for index, picture in enumerate(pictures):
            picture.save(folder / f"{index}.png")
    import_dataset("folder", root / "src", root, name=root.name, licence="CC0", shard_size=2)


@pytest.fixture(scope="module")
def deduplicated(tmp_path_factory: pytest.TempPathFactory, scene: Any) -> Path:
    """A training set (12 train, 2 val, 2 test) holding a copy of an evaluation image, after
    ``rsvl build dedup`` wrote its removed.json; plus a mixture file naming it."""
    base = tmp_path_factory.mktemp("leak")
    evaluation = [scene(100 + i, size=48) for i in range(3)]
    _folder_set(base / "evalset", {"test": evaluation})
    train_images = [scene(i, size=48) for i in range(12)]
    train_images[5] = evaluation[0].copy()
    _folder_set(base / "trainset", {"train": train_images,
                                    "val": [scene(200 + i, size=48) for i in range(2)],
                                    "test": [scene(300 + i, size=48) for i in range(2)]})
    assert cli_main(["build", "dedup", "--eval", f"{base / 'evalset'}:test",
                     "--train", str(base / "trainset"), "--out", str(base / "overlaps")]) == 0
    removed = json.loads((base / "trainset" / "removed.json").read_text())["removed"]
    assert set(removed) == {PLANTED} and removed[PLANTED]["match_key"] == "test_scene_0"
    (base / "mix.json").write_text(json.dumps({"datasets": [{"path": "trainset"}]}))
    return base


PATHS = {
    "shards": "trainset/shards",
    "split-folder": "trainset/shards/train",
    "parquet": "trainset/parquet/train.parquet",
    "mixture": "mix.json",
}


def _seen(run_dir: Path, ranks: int) -> list[str]:
    keys = []
    for rank in range(ranks):
        for line in (run_dir / "ranks" / f"rank{rank}.jsonl").read_text().splitlines():
            keys += json.loads(line)["keys"]
    return keys


def _start(run_dir: Path) -> dict[str, Any]:
    first = json.loads((run_dir / "log.jsonl").read_text().splitlines()[0])
    assert first["event"] == "start"
    return first


def _check(name: str, keys: list[str], start: dict[str, Any], ranks: int) -> None:
    print(f"{name}, {ranks} rank(s): {len(keys)} samples, keys seen {sorted(set(keys))}")
    assert len(keys) == 6 * 4 * ranks
    assert PLANTED not in keys
    # Training samples only (each epoch draws its own order, so not always all 11 of them).
    assert set(keys) <= TRAIN_KEYS - {PLANTED} and len(set(keys)) >= 8
    assert start["data.excluded_removed"] == 1 and start["data.samples"] == 11
    assert start["data.removed_files"].endswith("trainset/removed.json")


@pytest.mark.parametrize("path", list(PATHS))
def test_one_rank_never_trains_on_the_planted_image(deduplicated: Path, tmp_path: Path,
                                                    path: str) -> None:
    run_dir = tmp_path / "run"
    config = load_config(None, [*TINY, f"data.train={deduplicated / PATHS[path]}",
                                f"run.out_dir={run_dir}"])
    train(config)
    _check(path, _seen(run_dir, 1), _start(run_dir), 1)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["shards", "parquet", "mixture"])
def test_two_ranks_never_train_on_the_planted_image(deduplicated: Path, tmp_path: Path,
                                                    path: str) -> None:
    run_dir = tmp_path / "run"
    overrides = [*TINY, f"data.train={deduplicated / PATHS[path]}", f"run.out_dir={run_dir}"]
    command = accelerate_command(2, None, overrides, cpu=True)
    result = subprocess.run(command, env=launch_environment(cpu=True), capture_output=True,
                            text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    # The Parquet file lists only its 12 training rows; the others count the 16 records.
    listed = "12 (excluded: 0" if path == "parquet" else "16 (excluded: 4"
    assert f"11 training samples of {listed} of other splits, 1 removed" in result.stdout
    _check(path, _seen(run_dir, 2), _start(run_dir), 2)


def test_start_log_counts_what_each_reader_excludes(deduplicated: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    config = load_config(None, [*TINY, "run.max_steps=1",
                                f"data.train={deduplicated / 'trainset' / 'shards'}",
                                f"run.out_dir={run_dir}"])
    train(config)
    start = _start(run_dir)
    # records.jsonl lists 16; the 2 val and 2 test chips are other splits, 1 was removed.
    assert (start["data.excluded_other_splits"], start["data.excluded_removed"]) == (4, 1)
    assert "11 training samples of 16 (excluded: 4 of other splits, 1 removed by " \
           "de-duplication)" in capsys.readouterr().out
