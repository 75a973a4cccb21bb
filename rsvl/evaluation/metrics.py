"""Pure metric functions: classification accuracy, per-class recall, confusion, retrieval recall.

Fractions are in [0, 1]; ``mean_recall`` (retrieval) is the mean of the six R@k times 100, as
the remote-sensing retrieval papers report it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Share of rows whose label is among the ``k`` highest scores; NaN when k > classes."""
    if k > logits.shape[1]:
        return math.nan
    top = logits.topk(k, dim=1).indices
    return (top == labels[:, None]).any(dim=1).sum().item() / len(labels)


def confusion_matrix(
    labels: torch.Tensor, predictions: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """``[num_classes, num_classes]`` counts; rows are true classes, columns predictions."""
    flat = labels.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes**2).view(num_classes, num_classes)


def per_class_recall(confusion: torch.Tensor) -> list[float]:
    """Recall (per-class accuracy) of each class; NaN for classes with no images."""
    totals = confusion.sum(dim=1)
    return [confusion[i, i].item() / totals[i].item() if totals[i] else math.nan
            for i in range(len(totals))]


def mean_per_class_recall(confusion: torch.Tensor) -> float:
    """Balanced accuracy: mean recall over the classes that have images."""
    recalls = [r for r in per_class_recall(confusion) if not math.isnan(r)]
    return sum(recalls) / len(recalls) if recalls else math.nan


def classification_metrics(
    logits: torch.Tensor, labels: torch.Tensor, classnames: Sequence[str]
) -> dict[str, Any]:
    """acc1, acc5 (NaN under 5 classes), mean per-class recall, per-class accuracy, confusion."""
    confusion = confusion_matrix(labels, logits.argmax(dim=1), len(classnames))
    return {
        "acc1": topk_accuracy(logits, labels, 1),
        "acc5": topk_accuracy(logits, labels, 5),
        "mean_per_class_recall": mean_per_class_recall(confusion),
        "per_class_accuracy": dict(zip(classnames, per_class_recall(confusion), strict=True)),
        "confusion_matrix": confusion.tolist(),
    }


def retrieval_ranks(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    caption_image: torch.Tensor,
    chunk_size: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank of the best correct item for every image query and every caption query.

    Scores are dot products (pass L2-normalised features). The rank counts the items scoring
    strictly higher than the best correct one, so rank < k means "a correct item is in the top
    k" (ties count in the query's favour). Queries are scored ``chunk_size`` at a time: memory
    is ``chunk_size x max(images, captions)``, never ``images x captions``.

    Returns:
        ``(image_to_text, text_to_image)`` ranks, one per image and one per caption.
    """
    images = torch.arange(len(image_features))
    i2t = []
    for start in range(0, len(image_features), chunk_size):
        scores = image_features[start : start + chunk_size] @ text_features.T
        positive = caption_image[None, :] == images[start : start + chunk_size, None]
        best = scores.masked_fill(~positive, -math.inf).max(dim=1, keepdim=True).values
        i2t.append((scores > best).sum(dim=1))
    t2i = []
    for start in range(0, len(text_features), chunk_size):
        scores = text_features[start : start + chunk_size] @ image_features.T
        correct = scores.gather(1, caption_image[start : start + chunk_size, None])
        t2i.append((scores > correct).sum(dim=1))
    return torch.cat(i2t), torch.cat(t2i)


def recall_at_k(ranks: torch.Tensor, k: int) -> float:
    """Share of queries whose best correct item ranks in the top ``k``."""
    return (ranks < k).sum().item() / len(ranks)


def retrieval_metrics(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    caption_image: torch.Tensor,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int = 256,
) -> dict[str, float]:
    """``i2t_r{k}``, ``t2i_r{k}`` (fractions) and ``mean_recall`` (mean of them x 100)."""
    i2t, t2i = retrieval_ranks(image_features, text_features, caption_image, chunk_size)
    metrics = {f"i2t_r{k}": recall_at_k(i2t, k) for k in ks}
    metrics |= {f"t2i_r{k}": recall_at_k(t2i, k) for k in ks}
    metrics["mean_recall"] = 100 * sum(metrics.values()) / len(metrics)
    return metrics
