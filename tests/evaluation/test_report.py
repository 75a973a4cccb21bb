"""Reports are pure functions of result records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rsvl.errors import InputError
from rsvl.evaluation.report import build_report, write_report


def result(task: str, dataset: str, model: str, value: float, stamp: str = "2025-01-01",
           preset: str | None = None) -> dict[str, Any]:
    metric = "mean_recall" if task == "retrieval" else "acc1"
    return {"task": task, "dataset": dataset, "split": "all", "model": model,
            "checkpoint_sha256": model * 8, "preset": preset, "protocol": {},
            "metrics": {metric: value}, "timestamp": stamp, "num_images": 10}


RESULTS = [
    result("zeroshot", "aid", "a", 0.5), result("zeroshot", "aid", "b", 0.25),
    result("zeroshot", "eurosat", "a", 0.75), result("retrieval", "rsicd", "a", 12.5),
    result("zeroshot", "aid", "a", 0.4, stamp="2024-01-01"),  # older: loses to 0.5
]


def test_tables_datasets_by_models() -> None:
    report = build_report(RESULTS)
    assert "| aid | 50.00 | 25.00 |" in report.markdown
    assert "| eurosat | 75.00 |  |" in report.markdown
    assert "| **mean** | 62.50 |  |" in report.markdown  # model b lacks eurosat: no mean
    assert "## retrieval" in report.markdown and "| rsicd | 12.50 |" in report.markdown
    assert report.tables["zeroshot.csv"].splitlines() == [
        "dataset,a (aaaaaaaa),b (bbbbbbbb)", "aid,50.00,25.00", "eurosat,75.00,"]
    assert report.tables["all_metrics.csv"].count("\n") == 5  # header + 4 cells


def test_presets_are_separate_columns() -> None:
    report = build_report([result("zeroshot", "aid", "a", 0.5, preset="rs5m"),
                           result("zeroshot", "aid", "a", 0.6, preset="skyscript")])
    assert "a (aaaaaaaa) [rs5m] | a (aaaaaaaa) [skyscript]" in report.markdown


def test_write_report(tmp_path: Path) -> None:
    for i, item in enumerate(RESULTS):
        (tmp_path / f"{i}.json").write_text(json.dumps(item))
    written = write_report(tmp_path, tmp_path / "report")
    assert {p.name for p in written} == {"report.md", "zeroshot.csv", "retrieval.csv",
                                         "all_metrics.csv"}
    assert (tmp_path / "report" / "report.md").read_text() == build_report(RESULTS).markdown
    with pytest.raises(InputError, match="no result JSON files"):
        write_report(tmp_path / "report")
