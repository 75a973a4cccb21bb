"""``rsvl region``: prints a summary; bad options give one error line and status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvl.cli import main


def test_region_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["region", "--out", str(tmp_path), "--size-m", "300", "--seed", "2", "--no-tiles"])
        == 0
    )
    out = capsys.readouterr().out
    assert "generated region" in out and "300 m x 300 m" in out and "farmland" in out
    assert (tmp_path / "region.json").is_file() and not (tmp_path / "tiles").exists()
    assert (
        main(["region", "--out", str(tmp_path), "--size-m", "300", "--seed", "2", "--no-tiles"])
        == 0
    )
    assert "reused region" in capsys.readouterr().out


def test_region_command_rejects_small_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["region", "--out", str(tmp_path), "--size-m", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "size_m must be at least" in err
