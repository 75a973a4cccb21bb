"""Training config: files, overrides, and one-line refusals of typos and bad values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.errors import ConfigError
from rsvl.training.config import load_config

REPO = Path(__file__).resolve().parents[2]


def test_defaults_and_overrides_are_typed() -> None:
    config = load_config(None, ["optim.lr=1e-4", "augment.crop_scale=[0.8,1]", "data.train=x"])
    assert config.optim.lr == pytest.approx(1e-4)
    assert config.augment.crop_scale == [0.8, 1.0]
    assert config.data.train == "x"
    assert config.optim.warmup_steps == 1000


def test_typo_in_file_is_one_line_with_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"optim": {"lrr": 0.1}}))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message and "did you mean optim.lr?" in message


def test_unknown_section_and_bad_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean optim"):
        load_config(None, ["optimm.lr=1"])
    with pytest.raises(ConfigError, match="data.batch_size must be int"):
        load_config(None, ["data.batch_size=many"])
    with pytest.raises(ConfigError, match="run.mixed_precision"):
        load_config(None, ["run.mixed_precision=fp8"])
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["lr=1"])
    with pytest.raises(ConfigError, match="crop_scale"):
        load_config(None, ["augment.crop_scale=[0.9,0.5]"])
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  spec: rsvl-micro\nrun:\n  max_steps: 7\n")
    config = load_config(path)
    assert (config.model.spec, config.run.max_steps) == ("rsvl-micro", 7)


@pytest.mark.parametrize("name", ["tiny-cpu", "skyscript-vit-b-32", "skyscript-vit-l-14"])
def test_shipped_configs_load(name: str) -> None:
    config = load_config(REPO / "train" / "configs" / f"{name}.json")
    assert config.data.train


@pytest.mark.parametrize("old", ["random", "first"])
def test_old_caption_values_name_caption_choice(old: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, [f"data.captions={old}"])
    message = str(error.value)
    assert "\n" not in message and f"data.caption_choice={old}" in message
    config = load_config(None, ["data.captions=mixed", f"data.caption_choice={old}"])
    assert (config.data.captions, config.data.caption_choice) == ("mixed", old)
    assert load_config(None).data.captions == "short"
