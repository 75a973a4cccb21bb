"""Open-vocabulary segmentation: hand-worked mIoU, the region mask set, runner and CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from rsvl.builders.segmentation_sets import write_region_mask_set
from rsvl.builders.splits import SplitRule
from rsvl.cli import main
from rsvl.errors import InputError
from rsvl.evaluation.report import build_report
from rsvl.evaluation.results import read_results
from rsvl.evaluation.runner import EvalRequest, run_evaluation
from rsvl.evaluation.segmentation import (
    IGNORE,
    confusion_matrix,
    load_segmentation,
    patch_features,
    segmentation_baselines,
    segmentation_metrics,
)

N = IGNORE
TRUTH = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, N, N], [2, 2, 2, 2]])
PREDICTED = np.array([[0, 1, 1, 1], [0, 0, 1, 1], [2, 0, 2, 1], [2, 2, 2, 0]])


def test_miou_and_pixel_accuracy_match_the_hand_worked_4x4_pair() -> None:
    # Worked by hand over the 14 labelled pixels (the two ignored ones count nowhere):
    # class 0: TP 3, FP 2 ((2,1), (3,3)), FN 1 ((0,1)) -> 3/6; class 1: TP 4, FP 1, FN 0 -> 4/5;
    # class 2: TP 4, FP 0, FN 2 -> 4/6; class 3 is in neither mask and is not averaged.
    confusion = confusion_matrix(TRUTH, PREDICTED, 4)
    assert confusion.sum() == 14
    metrics = segmentation_metrics(confusion, ["a", "b", "c", "d"])
    assert metrics["per_class_iou"] == pytest.approx({"a": 0.5, "b": 0.8, "c": 4 / 6, "d": None})
    assert metrics["miou"] == pytest.approx((0.5 + 0.8 + 4 / 6) / 3)
    assert metrics["pixel_accuracy"] == pytest.approx(11 / 14)
    assert metrics["num_classes_present"] == 3


def test_a_class_only_predicted_counts_in_the_mean_with_iou_zero() -> None:
    metrics = segmentation_metrics(confusion_matrix(np.zeros((2, 2)), np.array([[0, 1], [0, 0]]),
                                                    2), ["a", "b"])
    assert metrics["per_class_iou"] == {"a": 0.75, "b": 0.0}
    assert metrics["miou"] == pytest.approx(0.375)


def test_baselines_of_the_hand_worked_truth() -> None:
    # Truth pixels: class 0: 4, class 1: 4, class 2: 6 of 14; class 3 absent (4 predictable).
    # Majority (class 2 everywhere): IoU 6/14 for class 2, 0 for the other two true classes.
    # Uniform random over 4 classes: IoU_c = p_c / (1 + 3 p_c) -> 4/26, 4/26, 6/32, 0; mean / 4.
    baselines = segmentation_baselines(confusion_matrix(TRUTH, PREDICTED, 4))
    assert baselines == pytest.approx({
        "majority_miou": (6 / 14) / 3, "majority_pixel_accuracy": 6 / 14,
        "chance_miou": (8 / 26 + 6 / 32) / 4, "chance_pixel_accuracy": 1 / 4})
    # The majority prediction scored by the metric itself gives the same figures.
    majority = segmentation_metrics(confusion_matrix(TRUTH, np.full((4, 4), 2), 4), list("abcd"))
    assert majority["miou"] == pytest.approx(baselines["majority_miou"])
    assert majority["pixel_accuracy"] == pytest.approx(baselines["majority_pixel_accuracy"])


def test_region_mask_set_is_the_class_raster_renumbered(vqa_region: Any,
                                                        tmp_path: Path) -> None:
    write_region_mask_set(vqa_region.out_dir, tmp_path / "masks", "all", chip_m=250.0)
    data = load_segmentation(tmp_path / "masks")
    assert len(data.images) == 16 and data.images[0].shape == (250, 250, 3)
    with rasterio.open(vqa_region.classes_path) as source:
        labels = source.read(1)[:250, :250]
    with rasterio.open(vqa_region.orthophoto_path) as source:
        assert (np.moveaxis(source.read([1, 2, 3])[:, :250, :250], 0, -1) == data.images[0]).all()
    names = {name: i for i, name in enumerate(data.classnames)}
    assert "house" in names and "farmland" in names and "ground" not in names
    first = data.masks[0]
    assert ((first == IGNORE) == np.isin(labels, (0, 1))).all()  # nodata and ground unlabelled
    assert len(set(np.unique(first)) - {IGNORE}) == len(set(np.unique(labels)) - {0, 1})
    with pytest.raises(InputError, match="region folder"):
        load_segmentation(vqa_region.out_dir)


def test_patch_tokens_project_into_the_joint_space(vqa_tiny_model: Any) -> None:
    import torch

    pixels = torch.zeros(2, 3, 32, 32)
    tokens = patch_features(vqa_tiny_model, pixels)
    assert tokens.shape == (2, 4, 4, 32)  # 32 px / 8 px patches, embed_dim 32
    assert torch.allclose(tokens.norm(dim=-1), torch.ones(2, 4, 4))


def test_runner_scores_a_mask_set_records_the_protocol_and_reuses_it(
        vqa_region: Any, vqa_tiny_model: Any, tmp_path: Path) -> None:
    write_region_mask_set(vqa_region.out_dir, tmp_path / "masks", "test", chip_m=50.0,
                          rule=SplitRule(cell_m=250.0, fractions=(0.6, 0.1, 0.3)))
    request = EvalRequest(task="segmentation", dataset=str(tmp_path / "masks"))
    path, result = run_evaluation(vqa_tiny_model, request, tmp_path / "results")
    assert result is not None and result["task"] == "segmentation"
    assert result["split"] == "test" and result["num_images"] > 0
    assert 0.0 <= result["metrics"]["miou"] <= 1.0
    assert result["protocol"]["chip_m"] == 50.0 and result["protocol"]["split_cell_m"] == 250.0
    assert result["protocol"]["templates"] and result["request"]["task"] == "segmentation"
    assert json.loads(path.read_text())["identity"] == result["identity"]
    assert run_evaluation(vqa_tiny_model, request, tmp_path / "results") == (path, None)
    assert "segmentation mIoU" in build_report(read_results(tmp_path / "results")).markdown


def test_cli_cuts_a_region_folder_and_writes_one_result(vqa_region: Any, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "segmentation", "--model", "rsvl-micro", "--device", "cpu",
                 "--dataset", str(vqa_region.out_dir), "--split", "all", "--chip-m", "250",
                 "--out", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    result = json.loads(Path(capsys.readouterr().out.strip()).read_text())
    assert result["num_images"] == 16 and result["split"] == "all"


def test_cli_split_flags_cut_the_builders_mask_set(vqa_region: Any, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # `rsvl demo` cuts its mask set with the builder and the caption build's split rule; the
    # command its report prints must cut the same chips (the same result identity).
    built = write_region_mask_set(vqa_region.out_dir, tmp_path / "masks", "test", chip_m=50.0,
                                  rule=SplitRule(cell_m=250.0, fractions=(0.6, 0.1, 0.3)))
    code = main(["eval", "segmentation", "--model", "rsvl-micro", "--device", "cpu",
                 "--dataset", str(vqa_region.out_dir), "--split", "test", "--chip-m", "50",
                 "--cell-m", "250", "--split-fractions", "0.6", "0.1", "0.3",
                 "--out", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    capsys.readouterr()
    (cut,) = (tmp_path / "cache" / "segmentation").iterdir()
    assert json.loads((cut / "segmentation.json").read_text()) == built
    assert main(["eval", "segmentation", "--model", "rsvl-micro", "--dataset",
                 str(vqa_region.out_dir), "--split-fractions", "0.6", "0.1",
                 "--out", str(tmp_path / "res")]) == 2
    assert "fraction" in capsys.readouterr().err


def test_cli_leaves_out_test_chips_sharing_pixels_with_training_chips(
        vqa_region: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--exclude-training CAPTIONS``: the mask set's test chips that share a pixel with one
    of the caption build's training chips are left out; without it the command warns."""
    from rsvl.builders.captions import CaptionBuildConfig, build_captions
    from rsvl.builders.chips import ChipRule

    rule = SplitRule(cell_m=250.0, fractions=(0.6, 0.1, 0.3))
    build_captions(CaptionBuildConfig(
        osm=str(vqa_region.osm_path), imagery=str(vqa_region.orthophoto_path),
        out=str(tmp_path / "captions"), rule=ChipRule(chip_size=64), split=rule,
        regions=False))
    flags = ["eval", "segmentation", "--model", "rsvl-micro", "--device", "cpu", "--dataset",
             str(vqa_region.out_dir), "--split", "test", "--chip-m", "50", "--cell-m", "250",
             "--split-fractions", "0.6", "0.1", "0.3", "--out", str(tmp_path / "res")]
    assert main([*flags, "--cache-dir", str(tmp_path / "all")]) == 0
    assert "--exclude-training" in capsys.readouterr().err
    assert main([*flags, "--cache-dir", str(tmp_path / "kept"),
                 "--exclude-training", str(tmp_path / "captions")]) == 0
    assert "warning" not in capsys.readouterr().err
    (every,) = (tmp_path / "all" / "segmentation").iterdir()
    (kept,) = (tmp_path / "kept" / "segmentation").iterdir()
    every_set = json.loads((every / "segmentation.json").read_text())
    kept_set = json.loads((kept / "segmentation.json").read_text())
    left_out = kept_set["details"]["overlapping_training"]
    assert left_out > 0 and len(kept_set["chips"]) == len(every_set["chips"]) - left_out
    assert set(kept_set["chips"]) < set(every_set["chips"])
