"""Reports are pure functions of result records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rsvl.errors import InputError
from rsvl.evaluation.report import build_report, write_report
from rsvl.evaluation.results import PROTOCOL_VERSION


def result(task: str, dataset: str, model: str, value: float, stamp: str = "2025-01-01",
           preset: str | None = None) -> dict[str, Any]:
    metric = "mean_recall" if task == "retrieval" else "acc1"
    return {"task": task, "dataset": dataset, "split": "all", "model": model,
            "checkpoint_sha256": model * 8, "preset": preset, "protocol": {},
            "metrics": {metric: value}, "timestamp": stamp, "num_images": 10,
            "protocol_version": PROTOCOL_VERSION, "identity": f"{task}{dataset}{model}{stamp}"}


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


def test_results_of_an_older_protocol_are_left_out_and_counted() -> None:
    old = {**result("zeroshot", "aid", "a", 0.9, stamp="2026-01-01"), "protocol_version": 1}
    unversioned = {k: v for k, v in result("zeroshot", "rsscn7", "a", 0.9).items()
                   if k != "protocol_version"}
    report = build_report([*RESULTS, old, unversioned])
    assert "| aid | 50.00 | 25.00 |" in report.markdown  # 0.9 (newest, but stale) not shown
    assert "rsscn7" not in report.markdown.split("## notes")[0]
    assert "2 result(s) of an older protocol version" in report.markdown
    assert "1 older result(s) of the same cells superseded" in report.markdown


def test_notes_list_unreadable_images_partial_sets_and_ties() -> None:
    broken = {**result("zeroshot", "aid", "a", 0.5), "num_skipped": 3,
              "completeness": {"expected_images": 10000, "found_images": 9000,
                               "missing_files": 0, "partial": True}}
    tied = {**result("retrieval", "rsicd", "a", 20.0),
            "ties": {"queries": {"i2t": 1093, "t2i": 5465},
                     "decided_by_tie": {"i2t_r1": 120, "t2i_r1": 0}}}
    report = build_report([broken, tied])
    assert "zeroshot aid / a (aaaaaaaa): PARTIAL dataset, 9000 of 10000 images" in report.markdown
    assert "zeroshot aid / a (aaaaaaaa): 3 unreadable image(s) left out of 13" in report.markdown
    assert "decided by a tie at the decisive rank: i2t_r1 120 of 1093" in report.markdown
    header, *rows = report.tables["all_metrics.csv"].splitlines()
    assert "num_skipped,partial,identity" in header
    assert ",3,True," in next(row for row in rows if row.startswith("zeroshot"))


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
