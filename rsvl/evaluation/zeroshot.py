"""Zero-shot scene classification: prompt-ensemble classifier, scores, metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from rsvl.errors import InputError
from rsvl.evaluation.datasets import ClassificationSet, describe
from rsvl.evaluation.features import FeatureOptions, image_features, text_features
from rsvl.evaluation.metrics import classification_metrics
from rsvl.evaluation.prompts import Ensemble
from rsvl.models import LoadedModel

LOGIT_SCALE = 100.0


def zero_shot_classifier(
    loaded: LoadedModel,
    classnames: Sequence[str],
    templates: Sequence[str],
    ensemble: Ensemble = "normalized",
) -> torch.Tensor:
    """Class embeddings ``[dim, classes]`` from every template filled with every class name.

    ``normalized``: L2-normalise each prompt embedding, average, renormalise (CLIP_benchmark);
    ``raw``: average the raw embeddings, then normalise (RS5M).
    """
    prompts = [template.format(c=name) for name in classnames for template in templates]
    encoded = text_features(loaded, prompts, normalize=ensemble == "normalized")
    per_class = encoded.view(len(classnames), len(templates), -1).mean(dim=1)
    return F.normalize(per_class, dim=-1).T


def zero_shot_classify(
    loaded: LoadedModel,
    dataset: ClassificationSet,
    templates: Sequence[str],
    classnames: Sequence[str] | None = None,
    *,
    ensemble: Ensemble = "normalized",
    options: FeatureOptions | None = None,
) -> dict[str, Any]:
    """Classify every image of ``dataset`` zero-shot and score it.

    Args:
        loaded: The model.
        dataset: Images and labels.
        templates: Prompt templates with ``{c}`` for the class name.
        classnames: Names in prompts (default: the dataset's display names), in class order.
        ensemble: How prompt embeddings are combined.
        options: Feature batch size, workers, cache, strictness.

    Returns:
        ``{"task", "dataset", "metrics", "protocol", "num_images", "skipped_images"}`` with
        acc1, acc5, mean per-class recall, per-class accuracy and the confusion matrix.
    """
    classnames = list(classnames or dataset.classnames)
    if len(classnames) != len(dataset.classes):
        raise InputError(f"{len(classnames)} class names given for the {len(dataset.classes)} "
                         f"classes of {dataset.root} ({', '.join(dataset.classes)})")
    classifier = zero_shot_classifier(loaded, classnames, templates, ensemble)
    encoded = image_features(loaded, dataset.paths, options)
    labels = torch.tensor(dataset.labels)[encoded.kept]
    logits = LOGIT_SCALE * encoded.features @ classifier
    return {
        "task": "zeroshot",
        "dataset": describe(dataset),
        "metrics": classification_metrics(logits, labels, classnames),
        "protocol": {
            "templates": list(templates),
            "ensemble": ensemble,
            "classes": dataset.classes,
            "class_names": classnames,
            "score": f"{LOGIT_SCALE:g} x cosine similarity, argmax",
            "split_rule": "whole dataset" if dataset.split == "all" else dataset.split,
        },
        "num_images": len(encoded.kept),
        "skipped_images": encoded.skipped,
    }
