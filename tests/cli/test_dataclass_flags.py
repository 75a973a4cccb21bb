"""Flags derived from a config dataclass: names, types, help, and where each value comes from."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rsvl.cli.dataclass_flags import ConfigFlags, field_docs
from rsvl.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """How chips are cut.

    Attributes:
        chip_size: Chip side in
            pixels (two lines).
        image_format: ``jpg`` or ``png``.
    """

    chip_size: int = 224
    image_format: str = "jpg"


@dataclass(frozen=True)
class Split:
    """Split cells.

    Attributes:
        cell_m, guard_m: Sizes in metres (100% of :func:`rsvl.x.y`).
        fractions: Train/val/test fractions.
    """

    cell_m: float | None = None
    guard_m: float = 0.0
    fractions: tuple[float, ...] = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class Build:
    """A build.

    Attributes:
        out: Output folder.
        balance: Balance answers.
        strict: Stop at the first error.
        imagery_options: Reader options.
        rule: Chip rule.
        split: Split rule.
    """

    out: str
    balance: bool = True
    strict: bool = False
    imagery_options: dict[str, Any] = field(default_factory=dict)
    rule: Rule = field(default_factory=Rule)
    split: Split = field(default_factory=Split)


FLAGS = ConfigFlags(Build, flatten=("rule",), aliases={"rule.image_format": "--format"},
                    choices={"rule.image_format": ("jpg", "png")})


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    FLAGS.add_to(parser)
    return parser.parse_args(list(argv))


def test_flag_names_follow_the_fields() -> None:
    assert [FLAGS.flag(leaf) for leaf in FLAGS.leaves()] == [
        "--out", "--balance", "--strict", "--imagery-option", "--chip-size", "--image-format",
        "--split-cell-m", "--split-guard-m", "--split-fractions"]


def test_values_reach_the_dataclass() -> None:
    config = FLAGS.from_args(_parse(
        "--out", "o", "--no-balance", "--strict", "--chip-size", "96", "--format", "png",
        "--split-cell-m", "400", "--split-fractions", "0.7", "0", "0.3",
        "--imagery-option", "max_zoom=17", "--imagery-option", "cache=/tmp/c"))
    assert config == Build(out="o", balance=False, strict=True,
                           imagery_options={"max_zoom": 17, "cache": "/tmp/c"},
                           rule=Rule(96, "png"), split=Split(400.0, 0.0, (0.7, 0.0, 0.3)))


def test_defaults_come_from_the_dataclass_alone() -> None:
    parser = argparse.ArgumentParser()
    FLAGS.add_to(parser)
    derived = [a for a in parser._actions if a.dest.startswith("config:")]
    assert len(derived) == len(FLAGS.leaves())
    assert all(a.default is argparse.SUPPRESS for a in derived)
    assert FLAGS.from_args(parser.parse_args(["--out", "o"])) == Build(out="o")


def test_flags_override_set_which_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "build.json"
    path.write_text(json.dumps({"out": "file", "rule": {"chip_size": 64, "image_format": "png"},
                                "imagery_options": {"max_zoom": 15, "cache": "c"}}))
    config = FLAGS.from_args(_parse("--config", str(path), "--set", "rule.chip_size=32",
                                    "--set", "out=set", "--out", "flag",
                                    "--imagery-option", "max_zoom=18"))
    assert (config.out, config.rule) == ("flag", Rule(32, "png"))
    assert config.imagery_options == {"max_zoom": 18, "cache": "c"}  # items merge


def test_mistakes_are_one_line() -> None:
    with pytest.raises(ConfigError, match=r"give --out \(or out in the --config file\)"):
        FLAGS.from_args(_parse())
    with pytest.raises(ConfigError, match="did you mean rule.chip_size"):
        FLAGS.from_args(_parse("--out", "o", "--set", "chip_size=3"))
    with pytest.raises(ConfigError, match=r"rule.image_format='gif' \(--image-format\); "
                                          "expected one of"):
        FLAGS.from_args(_parse("--out", "o", "--set", "rule.image_format=gif"))


def test_help_comes_from_the_docstrings() -> None:
    docs = field_docs(Build)
    assert docs[(Rule, "chip_size")] == "Chip side in pixels (two lines)."
    assert docs[(Rule, "image_format")] == "jpg or png."
    assert docs[(Split, "cell_m")] == docs[(Split, "guard_m")] == \
        "Sizes in metres (100% of rsvl.x.y)."
    parser = argparse.ArgumentParser()
    FLAGS.add_to(parser)
    text = " ".join(parser.format_help().split())
    assert "--chip-size CHIP_SIZE Chip side in pixels (two lines). (default: 224)" in text
    assert "--split-fractions FLOAT [FLOAT ...] Train/val/test fractions. (default: 0.8 0.1 0.1)"\
        in text
    assert "--balance, --no-balance" in text and "100% of" in text


def test_skipped_fields_have_no_flag_but_still_load() -> None:
    flags = ConfigFlags(Build, skip=("imagery_options",))
    parser = argparse.ArgumentParser()
    flags.add_to(parser)
    assert "--imagery-option" not in parser.format_help()
    config = flags.from_args(parser.parse_args(["--out", "o", "--set",
                                                "imagery_options.cache=c"]))
    assert config.imagery_options == {"cache": "c"}


def test_rules_naming_no_field_are_refused() -> None:
    with pytest.raises(AssertionError, match="no field split_cell_m"):
        ConfigFlags(Build, aliases={"split_cell_m": "--cells"})
