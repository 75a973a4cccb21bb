"""k-nearest-neighbour classification on frozen, L2-normalised image features."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from rsvl.evaluation.datasets import ClassificationSet, describe
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.metrics import classification_metrics
from rsvl.evaluation.splits import probe_data
from rsvl.models import LoadedModel


def knn_scores(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    num_classes: int,
    *,
    k: int = 20,
    temperature: float = 0.07,
    chunk_size: int = 256,
) -> torch.Tensor:
    """Class scores ``[test, classes]``: each of the ``k`` most similar training images votes
    for its class with weight ``exp(cosine / temperature)``."""
    k = min(k, len(train_features))
    one_hot = F.one_hot(train_labels.long(), num_classes).float()
    chunks = []
    for start in range(0, len(test_features), chunk_size):
        similarity = test_features[start : start + chunk_size] @ train_features.T
        top = similarity.topk(k, dim=1)
        weights = (top.values / temperature).exp()
        chunks.append((weights[:, :, None] * one_hot[top.indices]).sum(dim=1))
    return torch.cat(chunks) if chunks else torch.zeros(0, num_classes)


def knn_classify(
    loaded: LoadedModel,
    dataset: ClassificationSet,
    *,
    k: int = 20,
    temperature: float = 0.07,
    k_shot: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    options: FeatureOptions | None = None,
) -> dict[str, Any]:
    """k-NN accuracy of ``dataset``'s test part against its training part (seeded split)."""
    data = probe_data(loaded, dataset, k_shot=k_shot, test_fraction=test_fraction, seed=seed,
                      options=options)
    scores = knn_scores(data.train_features, data.train_labels, data.test_features,
                        len(dataset.classes), k=k, temperature=temperature)
    return {
        "task": "knn",
        "dataset": describe(dataset),
        "metrics": classification_metrics(scores, data.test_labels, dataset.classnames),
        "protocol": {**data.protocol, "k": k, "temperature": temperature,
                     "vote": "sum of exp(cosine / temperature) over the k nearest"},
        "num_images": len(data.encoded.kept),
        "skipped_images": data.encoded.skipped,
    }
