"""``rsvl build``: nested jobs on the built-in synthetic region, errors as one line; settings
flags derived from the config dataclasses, ``--config``/``--set``, ``--from-manifest``."""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from rsvl.cli import build, main
from rsvl.config import leaves
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


def _parsed(*argv: str) -> argparse.Namespace:
    from rsvl.cli import build_parser

    arguments = ["build", *argv]
    return build_parser(arguments).parse_args(arguments)


def _derived_parser(add_arguments: Callable[[argparse.ArgumentParser], None]
                    ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser


@pytest.mark.parametrize("job", ["captions", "vqa", "land-cover"])
def test_flags_hold_no_default_of_their_own(job: str) -> None:
    """Every settings flag is derived from its dataclass field and leaves the default to it:
    retyping a default in argparse (or adding a flag beside the dataclass) fails here."""
    from rsvl.cli import build_land_cover, build_vqa

    add, flags = {
        "captions": (build._add_chip_arguments, build.caption_flags),
        "vqa": (build_vqa.add_arguments, build_vqa.vqa_flags),
        "land-cover": (build_land_cover.add_arguments, build_land_cover.land_cover_flags),
    }[job]
    parser = _derived_parser(add)
    derived = {a.dest.removeprefix("config:"): a for a in parser._actions
               if a.dest.startswith("config:")}
    assert sorted(derived) == sorted(leaf.key for leaf in leaves(flags().cls))
    assert all(action.default is argparse.SUPPRESS for action in derived.values())
    others = {a.dest for a in parser._actions} - {a.dest for a in derived.values()}
    assert others <= {"help", "config_file", "overrides", "default_tag", "region", "out"}


def test_no_flag_means_the_dataclass_default() -> None:
    from rsvl.builders.land_cover import LandCoverRule
    from rsvl.builders.settings import CaptionBuildConfig
    from rsvl.cli import build_land_cover

    args = _parsed("captions", "--osm", "a.osm", "--imagery", "b.tif", "--out", "o")
    assert build.caption_config(args) == CaptionBuildConfig(osm="a.osm", imagery="b.tif",
                                                            out="o")
    args = _parsed("land-cover", "--region", "r", "--out", "o")
    assert build_land_cover.land_cover_flags().from_args(args) == LandCoverRule()


def test_legacy_flags_config_file_and_set(tmp_path: Path) -> None:
    path = tmp_path / "build.yaml"
    path.write_text("source: synthetic\nlicence: CC0-1.0\nseed: 5\nrule:\n  chip_size: 128\n"
                    "  margin: 0.3\nimagery_options:\n  max_zoom: 15\n")
    config = build.caption_config(_parsed(
        "captions", "--config", str(path), "--set", "seed=7", "--set", "rule.chip_size=96",
        "--osm", "a.osm", "--imagery", "b.tif", "--out", "o", "--chip-size", "64",
        "--format", "png", "--split-fractions", "0.7", "0", "0.3", "--imagery-option",
        "retries=2", "--default-tag", "building=yes", "--workers", "2", "--bands", "3", "2", "1"))
    assert (config.source, config.licence, config.seed) == ("synthetic", "CC0-1.0", 7)
    assert (config.rule.chip_size, config.rule.margin, config.rule.image_format) == (64, 0.3,
                                                                                      "png")
    assert config.imagery_options == {"max_zoom": 15, "retries": 2}
    assert config.read_options == {"default_tags": {"building": "yes"}}
    assert (config.workers, config.bands) == (2, (3, 2, 1))
    assert tuple(config.to_dict()["split"]["fractions"] if "split" in config.to_dict()
                 else config.split_fractions) == (0.7, 0.0, 0.3)


def test_unknown_key_is_one_line_naming_the_nearest(
        region, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["build", "captions", *_common(region, tmp_path), "--set",
                 "rule.chip_sise=128"]) == 2
    error = capsys.readouterr().err
    assert "did you mean rule.chip_size?" in error
    assert "Traceback" not in error and error.count("\n") == 1
    path = tmp_path / "build.json"
    path.write_text(json.dumps({"chip_size": 128}))
    assert main(["build", "captions", *_common(region, tmp_path), "--config", str(path)]) == 2
    error = capsys.readouterr().err
    assert f"{path}: unknown key chip_size; did you mean rule.chip_size?" in error
    assert error.count("\n") == 1
    assert main(["build", "vqa", "--out", str(tmp_path), "--set", "questions.per_typ=3"]) == 2
    assert "did you mean questions.per_type?" in capsys.readouterr().err
    assert main(["build", "land-cover", "--region", "r", "--out", "o", "--set", "chip=3"]) == 2
    assert "did you mean chip_m?" in capsys.readouterr().err


@pytest.fixture(scope="session")
def built(region, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """A caption dataset built from a config file, --set and flags."""
    root = tmp_path_factory.mktemp("built")
    config = root / "build.yaml"
    config.write_text("source: synthetic\nlicence: CC0-1.0\nrule:\n  chip_size: 96\n")
    out = root / "dataset"
    assert main(["build", "captions", "--config", str(config), "--set", "seed=3",
                 "--osm", str(region.osm_path), "--imagery", str(region.orthophoto_path),
                 "--out", str(out), "--split-cell-m", "100000", "--shard-size", "7"]) == 0
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_rebuild_from_manifest_is_byte_identical(
        built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 3 and manifest["config"]["rule"]["chip_size"] == 96
    again = tmp_path / "again"
    assert main(["build", "--from-manifest", str(built / "manifest.json"), "--out",
                 str(again)]) == 0
    assert f"rebuilding {built} as a captions build" in capsys.readouterr().out
    first, second = _files(built), _files(again)
    assert sorted(first) == sorted(second) and len(first) > 20
    assert any(name.startswith("shards/") for name in first) and "records.jsonl" in first
    assert [name for name in first if first[name] != second[name]] == ["manifest.json"]
    # The manifests (which hold no timestamp) differ only in the output folder and, from a
    # shell, the command line (here both record pytest's argv).
    old, new = manifest, json.loads((again / "manifest.json").read_text())
    assert {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)} <= {"command",
                                                                                 "config"}
    assert {k for k in old["config"] if old["config"][k] != new["config"][k]} == {"out"}


def test_rebuild_refusals(built: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    def refused(*argv: str) -> str:
        assert main(["build", *argv]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "Traceback" not in error
        return error

    assert "is the dataset" in refused("--from-manifest", str(built), "--out", str(built))
    assert "needs --out" in refused("--from-manifest", str(built))
    assert "no such manifest" in refused("--from-manifest", str(tmp_path), "--out", "x")
    assert "did you mean workers?" in refused("--from-manifest", str(built), "--out",
                                              str(tmp_path / "x"), "--set", "worker=2")
    assert "drop the job" in refused("--from-manifest", str(built), "captions")
    assert "go with --from-manifest" in refused("--out", "x", "captions")
    changed = json.loads((built / "manifest.json").read_text())
    changed["inputs"]["osm"]["sha256"] = "0" * 64
    (tmp_path / "changed").mkdir()
    (tmp_path / "changed" / "manifest.json").write_text(json.dumps(changed))
    assert "changed since the dataset was built" in refused(
        "--from-manifest", str(tmp_path / "changed"), "--out", str(tmp_path / "y"))
    changed["config"] = {"format": "karpathy"}  # an import's manifest
    (tmp_path / "changed" / "manifest.json").write_text(json.dumps(changed))
    assert "not one of a captions or vqa build" in refused(
        "--from-manifest", str(tmp_path / "changed"), "--out", str(tmp_path / "y"))
    changed["config"] = {**manifest_config(built), "split_cell_m": 500.0}  # an older rsvl's
    (tmp_path / "changed" / "manifest.json").write_text(json.dumps(changed))
    assert "settings split_cell_m are not settings of a captions build" in refused(
        "--from-manifest", str(tmp_path / "changed"), "--out", str(tmp_path / "y"))
    assert not (tmp_path / "y").exists()


def manifest_config(root: Path) -> dict[str, object]:
    config = json.loads((root / "manifest.json").read_text())["config"]
    assert isinstance(config, dict)
    return config


def test_the_demo_commands_parse_into_configs(tmp_path: Path) -> None:
    """The flag spellings the demo report prints (rsvl.demo.layout) still mean their settings."""
    from rsvl.cli import build_land_cover, build_vqa
    from rsvl.demo import DemoOptions, equivalent_commands

    configs = {}
    for command, _ in equivalent_commands(DemoOptions(out=tmp_path, size_m=900)):
        if not command.startswith("rsvl build "):
            continue
        args = _parsed(*shlex.split(command)[2:])
        configs[args.job] = {"vqa": build_vqa.config_of,
                             "land-cover": build_land_cover.land_cover_flags().from_args
                             }.get(args.job, build.caption_config)(args)
    assert set(configs) == {"captions", "classification", "retrieval", "land-cover", "vqa"}
    assert configs["captions"].rule.chip_size == configs["retrieval"].rule.chip_size
    assert configs["vqa"].name == "SYNTH" and configs["land-cover"].splits == ("test",)
