"""``rsvl demo`` end to end on a small region: artifacts, and that the model really learned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.cli import main
from rsvl.demo import DemoOptions, equivalent_commands, run_demo
from rsvl.demo.layout import TRAINED, UNTRAINED, recipe
from rsvl.errors import ConfigError
from rsvl.models import read_export_info

# The demo as shipped (its region and recipe), so the test checks the bars on the very
# run a newcomer gets: about 2 minutes on an idle 2-core machine. Why not a smaller region:
# recipe.json's _region_note.
SIZE_M, STEPS = float(recipe()["region_size_m"]), int(recipe()["train"]["run"]["max_steps"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoOptions, object]:
    options = DemoOptions(out=tmp_path_factory.mktemp("demo"), size_m=SIZE_M, seed=0,
                          processes=2, steps=STEPS, workers=2)
    return options, run_demo(options, say=lambda line: None)


@pytest.mark.slow
def test_demo_writes_every_artifact(demo: tuple[DemoOptions, object]) -> None:
    options, result = demo
    out = options.out
    for path in ("region/region.json", "data/records.jsonl", "data/shards/train/sizes.json",
                 "data/retrieval/dataset.json", "land_cover/summary.json",
                 "vqa/SYNTH_split_test_questions.json", "train.json", "runs/tiny/log.jsonl",
                 "runs/tiny/export/open_clip_model.safetensors",
                 "runs/untrained/open_clip_model.safetensors", "figures/loss.png",
                 "figures/search.png", "figures/confusion_land_cover.png",
                 "figures/similarity.png", "segmentation/segmentation.json", "summary.json"):
        assert (out / path).is_file(), path
    report = (out / "report.md").read_text()
    assert "## Trained vs untrained" in report and "rsvl train --config" in report
    assert "| vqa question-only |" in report
    assert "| localisation mIoU |" in report and "| localisation pixel acc. |" in report
    assert "rsvl eval segmentation --model" in report
    for figure in ("figures/loss.png", "figures/search.png", "figures/confusion_land_cover.png",
                   "figures/similarity.png"):
        assert f"]({figure})" in report
    trained = read_export_info(out / "runs/tiny/export")
    untrained = read_export_info(out / "runs/untrained")
    assert trained["provenance"]["steps"] == STEPS
    # The baseline is the run's own starting point: same architecture, same initial weights.
    assert trained["provenance"]["parent_sha256"] == untrained["sha256"]
    data = trained["provenance"]["config"]["data"]
    # Shards hold every split; only the training split may be learned from.
    assert data["train"] == str(out / "data" / "shards") and data["split"] == "train"


@pytest.mark.slow
def test_the_trained_model_learned(demo: tuple[DemoOptions, object]) -> None:
    _, result = demo
    figures = result.figures  # type: ignore[attr-defined]
    land_cover, retrieval = figures["zero-shot land_cover"], figures["retrieval"]
    # The bars: land cover at least 3x chance and above the untrained model, retrieval
    # above the untrained model; VQA: the trained model's head beats the same head trained with
    # the images replaced by a constant (question-only), and both answer priors.
    assert land_cover[TRAINED] > land_cover[UNTRAINED]
    assert land_cover[TRAINED] >= 3 * land_cover["chance"]
    assert retrieval[TRAINED] > retrieval[UNTRAINED]
    assert retrieval[TRAINED] > 2 * retrieval["chance"]
    vqa, blind = figures["vqa"], figures["vqa question-only"]
    assert vqa[TRAINED] > blind[TRAINED]
    assert vqa[TRAINED] > vqa["majority"] > vqa["chance"]  # per-type majority, majority
    # Localisation: the trained model's patch tokens find the classes better than its starting
    # point and than random pixels (no bar on pixel accuracy: it does not beat always answering
    # the largest class at every seed).
    localisation = figures["localisation mIoU"]
    assert localisation[TRAINED] > localisation[UNTRAINED]
    assert localisation[TRAINED] > localisation["chance"]


@pytest.mark.slow
def test_localisation_is_scored_through_the_runner_with_its_baselines(
        demo: tuple[DemoOptions, object]) -> None:
    options, result = demo
    miou = result.figures["localisation mIoU"]  # type: ignore[attr-defined]
    accuracy = result.figures["localisation pixel acc."]  # type: ignore[attr-defined]
    stored = json.loads(Path(miou[f"{TRAINED}_file"]).read_text())
    assert stored["task"] == "segmentation" and stored["request"]["split"] == "test"
    assert stored["metrics"]["miou"] == miou[TRAINED]
    # The mask set is the test cells' grid chips: the caption build's split cells.
    masks = json.loads((options.out / "segmentation/segmentation.json").read_text())
    assert masks["split"] == "test" and masks["details"]["split_cell_m"] == \
        recipe()["build"]["split_cell_m"]
    assert len(masks["chips"]) == stored["num_images"] == miou["images"]
    # Majority (the largest class everywhere): mIoU is its pixel share over the true classes.
    truth = [sum(row) for row in stored["metrics"]["pixel_confusion"]]
    assert accuracy["majority"] == pytest.approx(max(truth) / sum(truth))
    assert miou["majority"] == pytest.approx(accuracy["majority"] / sum(n > 0 for n in truth))
    for row in (miou, accuracy):
        assert 0 <= row[UNTRAINED] <= 1 and 0 <= row[TRAINED] <= 1


@pytest.mark.slow
def test_no_test_chip_shares_a_pixel_with_a_training_chip(
        demo: tuple[DemoOptions, object]) -> None:
    """The land-cover, localisation and VQA test chips are cut from the same ground as the
    caption build; none of them shares a pixel with a chip the model trained on."""
    import numpy as np
    import shapely

    from rsvl.data.records import read_records
    from rsvl.synth import load_region

    options, _ = demo
    region = load_region(options.out / "region")
    west, north = region.bounds[0], region.bounds[3]
    train = [r for r in read_records(options.out / "data/records.jsonl") if r.split == "train"]
    assert train and {r.crs for r in train} == {region.crs}
    tree = shapely.STRtree([shapely.box(*r.footprint) for r in train if r.footprint])

    def shared_pixels(boxes: list[tuple[float, float, float, float]]) -> int:
        chips = shapely.box(*np.array(boxes).T)
        pairs = tree.query(chips, predicate="intersects")
        return int(sum(chips[i].intersection(tree.geometries[j]).area > 1e-6
                       for i, j in zip(*pairs, strict=True)))

    def grid_chip(key: str, side: float) -> tuple[float, float, float, float]:
        row, col = int(key[1:4]), int(key[6:9])
        return (west + col * side, north - (row + 1) * side, west + (col + 1) * side,
                north - row * side)

    masks = json.loads((options.out / "segmentation/segmentation.json").read_text())
    side = masks["details"]["chip_m"]
    assert masks["chips"] and shared_pixels([grid_chip(k, side) for k in masks["chips"]]) == 0
    land_cover = json.loads((options.out / "land_cover/summary.json").read_text())
    side = land_cover["rule"]["chip_m"]
    chips = [grid_chip(p.stem, side) for p in (options.out / "land_cover").glob("*/*.jpg")]
    assert chips and shared_pixels(chips) == 0
    assert land_cover["rejected"]["overlaps_training_chip"] > 0  # there were some to leave out
    vqa = json.loads((options.out / "vqa/manifest.json").read_text())
    assert vqa["rejected"]["overlaps_training_chip"] > 0


@pytest.mark.slow
def test_a_rerun_reuses_everything(demo: tuple[DemoOptions, object]) -> None:
    options, result = demo
    mtime = (options.out / "runs/tiny/export/open_clip_model.safetensors").stat().st_mtime
    again = run_demo(options, say=lambda line: None)
    assert (options.out / "runs/tiny/export/open_clip_model.safetensors").stat().st_mtime == mtime
    assert again.figures == result.figures  # type: ignore[attr-defined]


def test_equivalent_commands_name_the_demo_folders(tmp_path: Path) -> None:
    commands = [c for c, _ in equivalent_commands(DemoOptions(out=tmp_path, size_m=900,
                                                              processes=2))]
    assert commands[0] == f"rsvl region --out {tmp_path / 'region'} --seed 0 --size-m 900"
    assert any(c.startswith("rsvl train --config") and "--processes 2" in c for c in commands)
    # Localisation: the region folder cut over the caption build's split cells.
    (segmentation,) = [c for c in commands if c.startswith("rsvl eval segmentation")]
    assert f"--dataset {tmp_path / 'region'} --split test" in segmentation
    assert "--cell-m 400 --split-fractions 0.7 0 0.3 --seed 0" in segmentation


def test_bad_processes_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--processes"):
        run_demo(DemoOptions(out=tmp_path, size_m=900, processes=0))


def test_cli_rejects_a_too_small_region(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "--out", str(tmp_path), "--size-m", "10"]) == 2
    assert "size_m must be at least" in capsys.readouterr().err
    assert json.dumps(sorted(p.name for p in tmp_path.iterdir())) == '[]'
