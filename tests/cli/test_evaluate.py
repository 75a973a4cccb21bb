"""``rsvl eval``: one JSON per run, one clear line per user mistake."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.cli import main


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    for c, name in enumerate(["pond", "river"]):
        for i in range(3):
            pixels = np.random.default_rng(10 * c + i).integers(0, 255, (16, 16, 3), np.uint8)
            (tmp_path / "scenes" / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(tmp_path / "scenes" / name / f"{name}_{i}.png")
    (tmp_path / "scenes" / "river" / "river_9.png").write_bytes(b"broken")
    return tmp_path / "scenes"


def test_zeroshot_writes_a_result(scenes: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval", "zeroshot", "--model", "rsvl-micro", "--dataset", str(scenes), "--out",
            str(tmp_path / "res"), "--workers", "0", "--cache-dir", str(tmp_path / "cache"),
            "--preset", "skyscript", "--device", "cpu"]
    assert main(args) == 0
    captured = capsys.readouterr()
    result = json.loads(Path(captured.out.strip()).read_text())
    assert result["num_skipped"] == 1 and result["preset"] == "skyscript"
    assert "1 unreadable skipped" in captured.err
    assert main([*args, "--strict", "--overwrite"]) == 2
    assert "error: unreadable image" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "res")]) == 0
    assert (tmp_path / "res" / "report.md").is_file()


def test_missing_dataset_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "zeroshot", "--model", "rsvl-micro", "--dataset", "uc-merced",
                 "--root", str(tmp_path / "none"), "--out", str(tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "UC Merced Land Use not found" in err and "weegee.vision.ucmerced.edu" in err


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "list"]) == 0
    out = capsys.readouterr().out
    assert "sydney-captions" in out and "presets: clip_benchmark" in out


def test_vqa_is_wired_as_a_task(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "vqa", "--help"])
    assert exit_info.value.code == 0
    assert "--method" in capsys.readouterr().out
