"""The fusion head: trains on CPU in seconds; on held-out images it beats the majority answer,
the per-type majority and (never below) the question-only head, on the synthetic set and on the
real RSVQA-LR sample split by image."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from rsvl.errors import ConfigError, InputError
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.vqa.evaluate import evaluate_vqa
from rsvl.evaluation.vqa.head import (
    HeadRecipe,
    answer_vocabulary,
    held_out_images,
    load_head,
    predict_head,
    save_head,
    train_vqa_head,
)
from rsvl.vqa.rsvl_format import VqaSet, read_rsvqa


@pytest.fixture(scope="module")
def trained(vqa_built: Any, vqa_tiny_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    options = FeatureOptions(cache_dir=tmp_path_factory.mktemp("cache"))
    train = read_rsvqa(vqa_built.root, "train")
    return train_vqa_head(vqa_tiny_model, train, HeadRecipe(epochs=20), options=options), options


def test_loss_falls_and_vocabulary(trained: Any, vqa_built: Any) -> None:
    head, _ = trained
    history = head.config["loss_history"]["prior"]
    assert len(history) == 20 and history[-1] < 0.6 * history[0]
    held_out = head.config["held_out"]
    assert held_out["images"] > 0 and held_out["accuracy_by_epoch"]["image"][0] > 0
    # Both evidence branches start from the prior alone.
    assert len({b[0] for b in held_out["accuracy_by_epoch"].values()}) == 1
    train = read_rsvqa(vqa_built.root, "train")
    assert head.answers == answer_vocabulary(train, 100)
    assert {"yes", "no", "rural"} <= set(head.answers)


def test_beats_the_majority_answer_on_the_test_split(trained: Any, vqa_built: Any,
                                                     vqa_tiny_model: Any) -> None:
    head, options = trained
    train, test = read_rsvqa(vqa_built.root, "train"), read_rsvqa(vqa_built.root, "test")
    outcome = evaluate_vqa(vqa_tiny_model, test, method="head", train=train, head=head,
                           options=options)
    metrics = outcome["metrics"]
    print(metrics["per_type_accuracy"], head.config["uses_image"], head.config["held_out"])
    print(f"head OA {metrics['oa']:.3f} AA {metrics['aa']:.3f} vs majority OA "
          f"{metrics['majority_oa']:.3f} (per-type majority {metrics['majority_per_type_oa']:.3f})"
          f" on {metrics['num_questions']} test questions")
    assert metrics["num_questions"] >= 100
    assert metrics["oa"] > metrics["majority_oa"] + 0.1
    assert metrics["oa"] > metrics["majority_per_type_oa"]
    assert metrics["oa"] >= metrics["question_only_oa"]
    assert metrics["baselines"]["question_only"]["oa"] == metrics["question_only_oa"]
    assert outcome["task"] == "vqa-head"
    assert outcome["protocol"]["head"]["train_split"] == "train"


def test_save_load_round_trip(trained: Any, vqa_built: Any, vqa_tiny_model: Any,
                              tmp_path: Path) -> None:
    head, options = trained
    test = read_rsvqa(vqa_built.root, "test")
    loaded_head = load_head(save_head(head, tmp_path / "head"))
    assert loaded_head.answers == head.answers
    assert predict_head(loaded_head, vqa_tiny_model, test, options) == predict_head(
        head, vqa_tiny_model, test, options)


def test_refuses_another_model_and_broken_folders(trained: Any, vqa_built: Any, vqa_tiny_model: Any,
                                                  tmp_path: Path) -> None:
    head, options = trained
    other = dataclasses.replace(vqa_tiny_model, checksum="0" * 64)  # as if other weights
    with pytest.raises(ConfigError, match="trained on model rsvl-micro"):
        predict_head(head, other, read_rsvqa(vqa_built.root, "test"), options)
    with pytest.raises(InputError, match="holds no readable VQA head"):
        load_head(tmp_path)


def _by_image(dataset: VqaSet, fraction: float, seed: int) -> tuple[VqaSet, VqaSet]:
    """``dataset`` split by image (never by question): (train, test)."""
    test_ids = held_out_images(list(dataset.images), fraction, seed)
    parts = []
    for name, inside in (("train", False), ("test", True)):
        parts.append(VqaSet(dataset.name, dataset.root, dataset.prefix, name,
                            {i: p for i, p in dataset.images.items() if (i in test_ids) == inside},
                            [q for q in dataset.questions if (q.image_id in test_ids) == inside]))
    return parts[0], parts[1]


def test_lr_sample_split_by_image_head_beats_the_answer_priors(
        shared_data: Path, vqa_tiny_model: Any, tmp_path: Path) -> None:
    """The RSVQA-LR sample's 50 images, 35 to train and 15 to test, counts binned (LR protocol)."""
    train, test = _by_image(read_rsvqa(shared_data / "rsvqa_lr_sample"), 0.3, 0)
    assert not {q.image_id for q in train.questions} & {q.image_id for q in test.questions}
    options = FeatureOptions(cache_dir=tmp_path)
    head = train_vqa_head(vqa_tiny_model, train, bin_counts=True, options=options)
    outcome = evaluate_vqa(vqa_tiny_model, test, method="head", train=train, head=head,
                           bin_counts=True, options=options)
    metrics = outcome["metrics"]
    print(f"LR sample by image: head OA {metrics['oa']:.4f} AA {metrics['aa']:.4f}; majority "
          f"{metrics['majority_oa']:.4f}, per-type majority {metrics['majority_per_type_oa']:.4f}"
          f", question-only {metrics['question_only_oa']:.4f}; uses image "
          f"{head.config['uses_image']} ({head.config['image_epochs']} epochs)")
    assert metrics["num_questions"] == len(test.questions) > 1000
    assert metrics["oa"] >= metrics["majority_per_type_oa"]
    assert metrics["oa"] >= metrics["question_only_oa"]
    assert metrics["question_only_oa"] > metrics["majority_per_type_oa"] > metrics["majority_oa"]
