"""``rsvl build vqa`` options: a region folder or --osm/--imagery; clear errors otherwise."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from rsvl.cli import build_vqa
from rsvl.errors import ConfigError, InputError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    build_vqa.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_needs_inputs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give --osm and --imagery, or --region"):
        build_vqa.run(_args("--out", str(tmp_path)))


def test_region_folder_must_hold_a_region(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a region folder"):
        build_vqa.run(_args("--region", str(tmp_path), "--out", str(tmp_path / "vqa")))


def test_options_reach_the_question_builder() -> None:
    args = _args("--osm", "a.osm", "--imagery", "b.tif", "--out", "o", "--bin-counts",
                 "--no-relations", "--categories", "house", "road")
    assert args.bin_counts and args.no_relations and args.categories == ["house", "road"]


def test_reached_through_rsvl_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rsvl.cli import main

    assert main(["build", "vqa", "--region", str(tmp_path), "--out", str(tmp_path / "q")]) == 2
    assert "not a region folder" in capsys.readouterr().err
