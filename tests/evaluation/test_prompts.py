"""Template sets, presets and class display names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.errors import ConfigError, InputError
from rsvl.evaluation.prompts import (
    get_preset,
    get_templates,
    list_presets,
    list_template_sets,
)


def test_template_sets_from_the_protocols() -> None:
    assert len(get_templates("rs5m")) == 105
    assert get_templates("skyscript") == ["a satellite photo of {c}.", "a satellite image of {c}"]
    assert get_templates("remoteclip") == ["a satellite photo of {c}"]
    assert len(get_templates("clip_benchmark_eurosat")) == 3
    for name in list_template_sets():
        assert all("{c}" in t and "satelite" not in t and "sattelite" not in t
                   for t in get_templates(name)), name


def test_presets() -> None:
    assert set(list_presets()) == {"rsvl", "skyscript", "remoteclip", "rs5m", "clip_benchmark"}
    assert get_preset("rs5m").ensemble == "raw"
    assert get_preset("rsvl").ensemble == "normalized"
    clip_benchmark = get_preset("clip_benchmark")
    assert clip_benchmark.template_set("eurosat") == "clip_benchmark_eurosat"
    assert clip_benchmark.template_set("aid") == "clip_benchmark_resisc45"
    assert clip_benchmark.class_names["eurosat"]["SeaLake"] == "lake or sea"
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("nope")


def test_templates_from_a_file(tmp_path: Path) -> None:
    good = tmp_path / "mine.json"
    good.write_text(json.dumps(["an image of {c}"]))
    assert get_templates(good) == ["an image of {c}"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"templates": ["no placeholder"]}))
    with pytest.raises(InputError, match="each containing"):
        get_templates(bad)
    with pytest.raises(ConfigError, match="unknown template set"):
        get_templates("nope")
