"""The eval hook's zero-shot accuracy on a class folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvl.errors import InputError
from rsvl.models import load_clip
from rsvl.training.augment import ImageTransform
from rsvl.training.zero_shot import class_folder_accuracy, class_folder_images


def test_accuracy_over_a_class_folder(class_folder: Path) -> None:
    names, items = class_folder_images(class_folder, max_images=100)
    assert len(names) == 8 and "red stripes" in names and len(items) == 16
    loaded = load_clip("rsvl-micro", device="cpu")
    transform = ImageTransform(32, loaded.preprocess_cfg["mean"], loaded.preprocess_cfg["std"])
    metrics = class_folder_accuracy(loaded.model, loaded.tokenizer, transform, class_folder,
                                    ["a satellite image of {c}"], "cpu", max_images=10)
    assert metrics["zero_shot_images"] == 10 and 0.0 <= metrics["zero_shot_acc1"] <= 1.0


def test_folder_without_classes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="one sub-folder of images per class"):
        class_folder_images(tmp_path, max_images=10)
