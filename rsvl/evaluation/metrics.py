"""Pure metric functions: classification accuracy, per-class recall, confusion, retrieval recall.

Fractions are in [0, 1]; ``mean_recall`` (retrieval) is the mean of the six R@k times 100, as
the remote-sensing retrieval papers report it. Retrieval success at k is CLIP_benchmark's: a
correct item among ``torch.topk(scores, k)``, so a tie between a correct and a wrong item is
broken by topk, never in the query's favour (see eval/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rsvl.errors import InputError


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


@dataclass
class RetrievalHits:
    """Per-query outcomes of one retrieval direction.

    Attributes:
        hits: k -> bool per query: a correct item is among ``torch.topk(scores, k)``.
        fragile: k -> bool per query: the outcome at k rests on how a tie at the decisive rank
            was broken (the best correct item ties with wrong items, and the tied group
            straddles rank k, so some of it falls inside the top k and some outside).
    """

    hits: dict[int, torch.Tensor]
    fragile: dict[int, torch.Tensor]


def _query_hits(queries: torch.Tensor, items: torch.Tensor,
                positives: Callable[[int, int], torch.Tensor], ks: Sequence[int],
                chunk_size: int) -> RetrievalHits:
    """Top-k outcomes of every query against every item, ``chunk_size`` queries at a time.

    A query's items rank as ``torch.topk`` over its whole score row ranks them (the call
    CLIP_benchmark makes, once per k), so ties break exactly as they do there: topk's rows are
    independent, so chunking the queries changes nothing. topk runs only on the rows whose
    outcome a tie decides; counting settles the others.
    """
    # Identical items (duplicated captions) share one score, so they tie exactly. Scores are
    # float64: float32 matrix products round differently with the matrix shape (chunk size,
    # BLAS, hardware), which would reorder near-ties.
    distinct, copy_of = torch.unique(items, dim=0, return_inverse=True)
    if len(distinct) == len(items):  # nothing repeated: keep the order, skip the expansion
        distinct, copy_of = items, None
    distinct = distinct.double()
    hits: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    fragile: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    for start in range(0, len(queries), chunk_size):
        stop = min(start + chunk_size, len(queries))
        scores = queries[start:stop].double() @ distinct.T
        if copy_of is not None:
            scores = scores[:, copy_of]
        positive = positives(start, stop)
        answerable = positive.any(dim=1)
        best = scores.masked_fill(~positive, -math.inf).max(dim=1, keepdim=True).values
        better = (scores > best).sum(dim=1)
        tied_wrong = ((scores == best) & ~positive).sum(dim=1)
        for k in ks:
            sure = answerable & (better + tied_wrong < k)
            undecided = answerable & (better < k) & ~sure
            outcome = sure.clone()
            rows = undecided.nonzero().squeeze(1)
            if len(rows):
                top = torch.topk(scores[rows], min(k, scores.shape[1]), dim=1).indices
                outcome[rows] = positive[rows].gather(1, top).any(dim=1)
            hits[k].append(outcome)
            fragile[k].append(undecided)
    return RetrievalHits({k: torch.cat(v) for k, v in hits.items()},
                         {k: torch.cat(v) for k, v in fragile.items()})


def retrieval_hits(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    caption_image: torch.Tensor,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int = 256,
) -> tuple[RetrievalHits, RetrievalHits]:
    """Top-k outcomes of every image query (over captions) and every caption query (over images).

    Scores are dot products (pass L2-normalised features). Success at k = a correct item among
    ``torch.topk(scores_row, k)``, CLIP_benchmark's ``zeroshot_retrieval`` rule, ties included.
    Memory is ``chunk_size x max(images, captions)``, never ``images x captions``.

    Raises:
        InputError: A feature is NaN or infinite (no ranking is defined).

    Returns:
        ``(image_to_text, text_to_image)``.
    """
    for name, features in (("image", image_features), ("text", text_features)):
        if not torch.isfinite(features).all():
            raise InputError(f"the model produced non-finite {name} embeddings (NaN or inf); "
                             "check the checkpoint")
    caption_image = caption_image.long()
    images = torch.arange(len(image_features))

    def captions_of(start: int, stop: int) -> torch.Tensor:
        return caption_image[None, :] == images[start:stop, None]

    def image_of(start: int, stop: int) -> torch.Tensor:
        return images[None, :] == caption_image[start:stop, None]

    return (_query_hits(image_features, text_features, captions_of, ks, chunk_size),
            _query_hits(text_features, image_features, image_of, ks, chunk_size))


def recall_metrics(i2t: RetrievalHits, t2i: RetrievalHits) -> dict[str, float]:
    """``i2t_r{k}``, ``t2i_r{k}`` (fractions) and ``mean_recall`` (mean of them x 100)."""
    metrics = {f"i2t_r{k}": int(hits.sum()) / len(hits) for k, hits in i2t.hits.items()}
    metrics |= {f"t2i_r{k}": int(hits.sum()) / len(hits) for k, hits in t2i.hits.items()}
    metrics["mean_recall"] = 100 * sum(metrics.values()) / len(metrics)
    return metrics


def tie_fragility(i2t: RetrievalHits, t2i: RetrievalHits) -> dict[str, int]:
    """Per metric, how many queries a tie at the decisive rank decided (0: the number is robust)."""
    counts = {f"i2t_r{k}": int(flags.sum()) for k, flags in i2t.fragile.items()}
    return counts | {f"t2i_r{k}": int(flags.sum()) for k, flags in t2i.fragile.items()}


def chance_recalls(caption_image: torch.Tensor, num_images: int,
                   ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Expected recall of a random ranking (the floor a model must beat), as recall metrics.

    Image query with c of the M captions right: R@k = 1 - C(M - c, k) / C(M, k); caption query
    (one right image among N): R@k = k / N.
    """
    captions = len(caption_image)
    per_image = torch.bincount(caption_image.long(), minlength=num_images).tolist()

    def image_hit(right: int, k: int) -> float:
        miss = 1.0
        for j in range(min(k, captions)):
            miss *= max(0, captions - right - j) / (captions - j)
        return 1.0 - miss

    chance = {f"i2t_r{k}": sum(image_hit(c, k) for c in per_image) / num_images for k in ks}
    chance |= {f"t2i_r{k}": min(1.0, k / num_images) for k in ks}
    chance["mean_recall"] = 100 * sum(chance.values()) / len(chance)
    return chance


def retrieval_metrics(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    caption_image: torch.Tensor,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int = 256,
) -> dict[str, float]:
    """``i2t_r{k}``, ``t2i_r{k}`` (fractions) and ``mean_recall`` (see :func:`retrieval_hits`)."""
    return recall_metrics(*retrieval_hits(image_features, text_features, caption_image, ks,
                                          chunk_size))
