"""VQA metrics against hand-worked values; the majority baseline; results in rsvl report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rsvl.errors import InputError
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.report import build_report
from rsvl.evaluation.results import make_result, read_results, write_result
from rsvl.evaluation.vqa.evaluate import evaluate_vqa, majority_baseline, vqa_metrics
from rsvl.vqa.rsvl_format import VqaQuestion, VqaSet, read_rsvqa


def test_metrics_by_hand() -> None:
    types = ["presence", "presence", "count", "count", "count", "comp"]
    truths = ["yes", "no", "0", "2", "2", "yes"]
    predictions = ["yes", "yes", "0", "1", None, "yes"]
    metrics = vqa_metrics(types, truths, predictions)
    assert metrics["per_type_accuracy"] == {"comp": 1.0, "count": pytest.approx(1 / 3),
                                            "presence": 0.5}
    assert metrics["oa"] == pytest.approx(3 / 6) == metrics["acc1"]
    assert metrics["aa"] == pytest.approx((1 + 1 / 3 + 0.5) / 3)
    assert metrics["count_confusion"] == {"labels": ["0", "1", "2"],
                                          "matrix": [[1, 0, 0], [0, 0, 0], [0, 1, 0]]}
    with pytest.raises(InputError, match="empty"):
        vqa_metrics([], [], [])


def _set(answers: list[tuple[str, str]]) -> VqaSet:
    questions = [VqaQuestion(i, 0, t, f"q{i}", a) for i, (t, a) in enumerate(answers)]
    return VqaSet("toy", Path("."), "LR", "test", {0: Path("0.png")}, questions)


def test_majority_baseline() -> None:
    train = _set([("presence", "no"), ("presence", "no"), ("count", "3"), ("count", "3"),
                  ("count", "3"), ("count", "12")])
    test = _set([("presence", "no"), ("presence", "yes"), ("count", "7"), ("count", "15")])
    baseline = majority_baseline(train, test)
    assert baseline["overall"]["oa"] == 0.0  # always "3"
    assert baseline["per_type"]["oa"] == pytest.approx(1 / 4)  # "no" / "3"
    # Binned, "3" and "7" are both "between 1 and 10".
    assert majority_baseline(train, test, bin_counts=True)["per_type"]["oa"] == pytest.approx(2 / 4)


def test_zero_shot_on_the_lr_sample_lands_in_the_report(
        shared_data: Path, vqa_tiny_model: Any, tmp_path: Path) -> None:
    dataset = read_rsvqa(shared_data / "rsvqa_lr_sample")
    # LR practice: counts scored by bins (also keeps the prompts few: 5 count candidates).
    outcome = evaluate_vqa(vqa_tiny_model, dataset, bin_counts=True,
                           options=FeatureOptions(cache_dir=tmp_path))
    metrics = outcome["metrics"]
    assert metrics["num_questions"] == 5005
    assert metrics["per_type_count"] == {"comp": 1993, "count": 1471, "presence": 1491,
                                         "rural_urban": 50}
    assert 0.0 <= metrics["oa"] <= 1.0 and set(metrics["per_type_accuracy"]) == {
        "comp", "count", "presence", "rural_urban"}
    assert None not in outcome["predictions"]
    path = write_result(tmp_path / "results", make_result(outcome, vqa_tiny_model))
    assert path.name.startswith("rsvqa_lr_sample__sample__rsvl-micro-")
    [result] = read_results(tmp_path / "results")
    assert result["task"] == "vqa-zeroshot" and result["metrics"]["oa"] == metrics["oa"]
    assert "vqa-zeroshot" in build_report([result]).markdown


def test_report_shows_the_vqa_baselines() -> None:
    baselines = {"majority": {"oa": 0.3, "aa": 0.2, "per_type_accuracy": {}},
                 "per_type_majority": {"oa": 0.55, "aa": 0.5, "per_type_accuracy": {}},
                 "question_only": {"oa": 0.7, "aa": 0.6, "per_type_accuracy": {}}}
    result = {"task": "vqa-head", "dataset": "lr", "split": "test", "model": "m",
              "checkpoint_sha256": "ab" * 32, "preset": None, "num_images": 3,
              "protocol_version": 99, "timestamp": "t",
              "metrics": {"oa": 0.75, "aa": 0.7, "baselines": baselines}}
    report = build_report([result])
    assert "| lr | 75.00 |" in report.markdown
    for row in ("lr: majority answer | 30.00", "lr: per-type majority | 55.00",
                "lr: question-only head | 70.00"):
        assert f"| {row} |" in report.markdown
    assert "**mean**" not in report.markdown
    assert "lr: question-only head,70.00" in report.tables["vqa-head.csv"]
