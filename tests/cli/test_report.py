"""``rsvl report DIR``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.cli import main
from rsvl.evaluation.results import PROTOCOL_VERSION


def test_report_from_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.json").write_text(json.dumps({
        "task": "knn", "dataset": "aid", "split": "all", "model": "m",
        "checkpoint_sha256": "0" * 64,
        "metrics": {"acc1": 0.5}, "protocol": {}, "protocol_version": PROTOCOL_VERSION}))
    assert main(["report", str(tmp_path)]) == 0
    assert "| aid | 50.00 |" in (tmp_path / "report.md").read_text()
    assert "knn.csv" in capsys.readouterr().out


def test_empty_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no result JSON files" in capsys.readouterr().err
