"""The training loop's periodic evaluation: zero-shot classification via ``rsvl.evaluation``.

Runs on the main process with the model being trained (eval mode for the pass), on a class
folder or a registered benchmark, optionally on a fixed random subset so the pause stays
short, and returns the scalar metrics for the trackers.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from rsvl.models import LoadedModel
from rsvl.training.config import EvalConfig


def zero_shot_metrics(loaded: LoadedModel, cfg: EvalConfig) -> dict[str, float]:
    """acc1 and mean per-class recall of ``loaded`` on ``cfg.dataset`` (at most max_images)."""
    from rsvl.evaluation.datasets import load_classification
    from rsvl.evaluation.zeroshot import zero_shot_classify

    dataset = load_classification(cfg.dataset, cfg.root or None)
    if len(dataset.paths) > cfg.max_images:
        picked = sorted(random.Random(0).sample(range(len(dataset.paths)), cfg.max_images))
        dataset = dataclasses.replace(
            dataset, paths=[dataset.paths[i] for i in picked],
            labels=[dataset.labels[i] for i in picked],
        )
    was_training = loaded.model.training
    loaded.model.eval()
    try:
        result: dict[str, Any] = zero_shot_classify(loaded, dataset, cfg.templates)
    finally:
        loaded.model.train(was_training)
    metrics = result["metrics"]
    return {
        "zero_shot_acc1": float(metrics["acc1"]),
        "zero_shot_mean_per_class_recall": float(metrics["mean_per_class_recall"]),
        "zero_shot_images": float(result["num_images"]),
    }
