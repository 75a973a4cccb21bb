"""``rsvl build vqa`` options: a region folder or --osm/--imagery; clear errors otherwise."""

from __future__ import annotations

import argparse
import json
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
    config = build_vqa.config_of(_args(
        "--osm", "a.osm", "--imagery", "b.tif", "--out", "o", "--bin-counts", "--no-relations",
        "--categories", "house", "road", "--per-type", "4", "--format", "jpg", "--chip-size",
        "64", "--chip-gsd-factor", "2", "--split-fractions", "0.7", "0", "0.3"))
    assert config.questions.bin_counts and not config.questions.relations
    assert config.questions.attributes and config.questions.balance
    assert (config.questions.categories, config.questions.per_type) == (("house", "road"), 4)
    assert (config.image_format, config.chip_size, config.chip_gsd_factor) == ("jpg", 64, 2.0)


def test_defaults_are_the_dataclass_defaults() -> None:
    from rsvl.builders.vqa import VqaBuildConfig

    assert build_vqa.config_of(_args("--osm", "a", "--imagery", "b", "--out", "o")) == \
        VqaBuildConfig(osm="a", imagery="b", out="o")


def test_config_file_then_set_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "vqa.yaml"
    path.write_text("osm: a.osm\nimagery: b.tif\nname: LR\nquestions:\n  per_type: 2\n"
                    "  balance: false\n")
    config = build_vqa.config_of(_args("--config", str(path), "--out", "o", "--set",
                                       "questions.per_type=3", "--set", "name=HR", "--name", "X"))
    assert (config.osm, config.name, config.questions.per_type) == ("a.osm", "X", 3)
    assert not config.questions.balance
    with pytest.raises(ConfigError, match="did you mean questions.per_type"):
        build_vqa.config_of(_args("--config", str(path), "--out", "o", "--set", "per_typ=1"))


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from rsvl.synth import generate_region

    return generate_region(tmp_path_factory.mktemp("region"), seed=0, size_m=500, tiles=False)


def test_rebuild_from_manifest_is_byte_identical(
        region, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from rsvl.cli import main

    first, again = tmp_path / "vqa", tmp_path / "again"
    assert main(["build", "vqa", "--region", str(region.out_dir), "--out", str(first),
                 "--chip-size", "64", "--format", "jpg", "--per-type", "2",
                 "--split-cell-m", "100000"]) == 0
    assert main(["build", "--from-manifest", str(first), "--out", str(again)]) == 0
    files = {p.relative_to(first).as_posix(): p.read_bytes() for p in first.rglob("*")
             if p.is_file()}
    rebuilt = {p.relative_to(again).as_posix(): p.read_bytes() for p in again.rglob("*")
               if p.is_file()}
    assert sorted(files) == sorted(rebuilt) and any(n.endswith("_questions.json") for n in files)
    assert [name for name in files if files[name] != rebuilt[name]] == ["manifest.json"]
    old, new = (json.loads(files["manifest.json"]), json.loads(rebuilt["manifest.json"]))
    assert {k for k in old["config"] if old["config"][k] != new["config"][k]} == {"out"}


def test_reached_through_rsvl_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rsvl.cli import main

    assert main(["build", "vqa", "--region", str(tmp_path), "--out", str(tmp_path / "q")]) == 2
    assert "not a region folder" in capsys.readouterr().err
