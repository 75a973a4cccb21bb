"""``rsvl classify``: table and JSON output, label sources, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.cli import main


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((12, 12, 3), 70 * i, np.uint8)).save(folder / f"{i}.png")
    return folder


def test_table_and_json(images: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["classify", "--model", "rsvl-micro", str(images / "0.png"), "--labels",
                 "forest,river,road", "--top-k", "2", "--device", "cpu"]) == 0
    line = capsys.readouterr().out.strip().split("\t")
    assert line[0].endswith("0.png") and len(line) == 3
    (tmp_path / "labels.txt").write_text("forest\n\nriver\n")
    assert main(["classify", "--model", "rsvl-micro", str(images), "--labels-file",
                 str(tmp_path / "labels.txt"), "--json", "--templates", "remoteclip"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3 and {p["label"] for p in rows[0]["predictions"]} == {"forest", "river"}


@pytest.mark.parametrize("extra, expected", [
    (["--labels", " , "], "no class names"),
    (["--labels", "a,b", "--labels-file", "missing.txt"], "labels file not found"),
    (["--labels", "a,b", "missing.png"], "image not found: missing.png"),
])
def test_errors_are_one_line(images: Path, extra: list[str], expected: str,
                             capsys: pytest.CaptureFixture) -> None:
    assert main(["classify", "--model", "rsvl-micro", *extra, str(images / "1.png")]) == 2
    error = capsys.readouterr().err.strip()
    assert expected in error and "\n" not in error and "Traceback" not in error
