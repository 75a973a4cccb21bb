"""``rsvl build``: nested jobs on the built-in synthetic region, errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.cli import main
from rsvl.synth import generate_region


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A small (500 m) synthetic region, generated once per session."""
    return generate_region(tmp_path_factory.mktemp("region"), seed=0, size_m=500, tiles=False)


def _common(region, out: Path) -> list[str]:  # type: ignore[no-untyped-def]
    return ["--osm", str(region.osm_path), "--imagery", str(region.orthophoto_path),
            "--out", str(out), "--source", "synthetic", "--licence", "CC0-1.0",
            "--chip-size", "96", "--split-cell-m", "100000"]


def test_captions_then_classification_on_the_synthetic_region(
        region, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["build", "captions", *_common(region, tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "tag vocabulary:" in printed and "chips in" in printed
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").open()]
    assert len(records) >= 20
    assert all(r["source"] == "synthetic" and r["crs"] == "EPSG:32633" for r in records)
    assert main(["build", "classification", *_common(region, tmp_path), "--tasks", "land_use",
                 "--min-per-class", "2", "--splits", "train", "val", "test"]) == 0
    classes = [p.name for p in (tmp_path / "classification" / "land_use").iterdir()]
    assert len(classes) >= 2 and "land_use" in capsys.readouterr().out


def test_bad_input_is_one_line(
        region, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["build", "captions", *_common(region, tmp_path / "a"), "--osm",
                 str(tmp_path / "missing.osm")]) == 2
    error = capsys.readouterr().err
    assert "missing.osm" in error and "Traceback" not in error and error.count("\n") == 1
    assert main(["build", "captions", *_common(region, tmp_path / "b"),
                 "--split-fractions", "0.5", "0.5", "0.5"]) == 2
    assert "split fractions" in capsys.readouterr().err
