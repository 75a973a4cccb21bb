"""The eval hook: zero-shot metrics from rsvl.evaluation on a (subsampled) class folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvl.errors import ConfigError
from rsvl.models import load_clip
from rsvl.training.config import EvalConfig, load_config
from rsvl.training.eval_hook import zero_shot_metrics


def test_metrics_on_a_subsampled_class_folder(class_folder: Path) -> None:
    loaded = load_clip("rsvl-micro", device="cpu")
    loaded.model.train()
    metrics = zero_shot_metrics(loaded, EvalConfig(dataset=str(class_folder), max_images=10))
    assert metrics["zero_shot_images"] == 10
    assert 0.0 <= metrics["zero_shot_acc1"] <= 1.0
    assert loaded.model.training  # back in training mode after the pass


def test_missing_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="eval.dataset is empty"):
        load_config(None, ["eval.every_steps=5"])
    with pytest.raises(ConfigError, match="unknown dataset"):
        zero_shot_metrics(load_clip("rsvl-micro", device="cpu"),
                          EvalConfig(dataset=str(tmp_path / "nope")))
