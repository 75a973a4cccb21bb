"""Zero-shot classification: classifier maths, and end to end on real WHU-RS19 images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rsvl.errors import InputError
from rsvl.evaluation.datasets import load_classification
from rsvl.evaluation.features import text_features
from rsvl.evaluation.prompts import get_templates
from rsvl.evaluation.zeroshot import zero_shot_classifier, zero_shot_classify
from rsvl.models import LoadedModel

TEMPLATES = ["a satellite photo of {c}.", "{c} from above"]


def test_ensembles(micro: LoadedModel) -> None:
    classifier = zero_shot_classifier(micro, ["pond", "runway"], TEMPLATES)
    prompts = text_features(micro, ["a satellite photo of pond.", "pond from above"])
    expected = F.normalize(prompts.mean(0), dim=0)
    assert classifier.shape == (32, 2)
    assert torch.allclose(classifier[:, 0], expected, atol=1e-6)
    raw = zero_shot_classifier(micro, ["pond", "runway"], TEMPLATES, ensemble="raw")
    raw_prompts = text_features(micro, ["a satellite photo of pond.", "pond from above"],
                                normalize=False)
    assert torch.allclose(raw[:, 0], F.normalize(raw_prompts.mean(0), dim=0), atol=1e-6)
    assert not torch.allclose(raw, classifier)


@pytest.mark.slow
def test_whu_rs19_mini_end_to_end(micro: LoadedModel, shared_data: Path, tmp_path: Path) -> None:
    dataset = load_classification(shared_data / "whu_rs19_mini")
    outcome = zero_shot_classify(micro, dataset, get_templates("skyscript"))
    assert outcome["num_images"] == 190 and outcome["skipped_images"] == []
    protocol = outcome["protocol"]
    assert protocol["templates"] == get_templates("skyscript")
    assert protocol["class_names"][dataset.classes.index("railwaystation")] == "railway station"
    assert protocol["ensemble"] == "normalized" and protocol["split_rule"] == "whole dataset"
    metrics = outcome["metrics"]
    assert 0 <= metrics["acc1"] <= metrics["acc5"] <= 1
    assert sum(map(sum, metrics["confusion_matrix"])) == 190
    assert len(metrics["per_class_accuracy"]) == 19


def test_broken_image_and_few_classes(micro: LoadedModel, class_tree: Path) -> None:
    dataset = load_classification(class_tree)
    outcome = zero_shot_classify(micro, dataset, TEMPLATES)
    assert outcome["num_images"] == 9 and len(outcome["skipped_images"]) == 1
    assert outcome["metrics"]["acc5"] != outcome["metrics"]["acc5"]  # NaN under 5 classes
    with pytest.raises(InputError, match="2 class names given for the 3 classes"):
        zero_shot_classify(micro, dataset, TEMPLATES, ["a", "b"])
