"""Text-image retrieval: R@1/5/10 both ways and mean recall, several captions per image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rsvl.evaluation.datasets import RetrievalSet, describe
from rsvl.evaluation.features import FeatureOptions, image_features, text_features
from rsvl.evaluation.metrics import chance_recalls, recall_metrics, retrieval_hits, tie_fragility
from rsvl.models import LoadedModel


def evaluate_retrieval(
    loaded: LoadedModel,
    dataset: RetrievalSet,
    *,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int = 256,
    options: FeatureOptions | None = None,
) -> dict[str, Any]:
    """Image-to-text and text-to-image recall of ``loaded`` on ``dataset``.

    Unreadable images are dropped together with their captions (and counted). Each distinct
    caption is encoded once, so repeated captions get identical embeddings and tie exactly
    (batched encoding rounds the same string differently with its batch).

    Returns:
        ``{"task", "dataset", "metrics", "protocol", "num_images", "num_captions",
        "skipped_images", "ties", "chance"}``; metrics ``i2t_r{k}``, ``t2i_r{k}`` in [0, 1] and
        ``mean_recall``; ``ties``: per metric, the queries a tie at the decisive rank decided;
        ``chance``: the same metrics for a random ranking.
    """
    encoded = image_features(loaded, dataset.image_paths, options)
    position = {image: i for i, image in enumerate(encoded.kept)}
    kept_captions = [c for c, image in enumerate(dataset.caption_image) if image in position]
    captions = [dataset.captions[c] for c in kept_captions]
    caption_image = torch.tensor([position[dataset.caption_image[c]] for c in kept_captions])
    distinct = sorted(set(captions))
    index = {caption: i for i, caption in enumerate(distinct)}
    texts = text_features(loaded, distinct)[torch.tensor([index[c] for c in captions])]
    i2t, t2i = retrieval_hits(encoded.features, texts, caption_image, ks, chunk_size)
    return {
        "task": "retrieval",
        "dataset": describe(dataset),
        "metrics": recall_metrics(i2t, t2i),
        "protocol": {
            "score": "cosine similarity of L2-normalised embeddings (float64)",
            "success": "a correct item among torch.topk(scores, k) (CLIP_benchmark's "
                       "zeroshot_retrieval rule; ties are broken by topk, not for the query)",
            "ks": list(ks),
            "mean_recall": "mean of i2t and t2i R@k x 100",
        },
        "num_images": len(encoded.kept),
        "num_captions": len(captions),
        "num_distinct_captions": len(distinct),
        "skipped_images": encoded.skipped,
        "ties": {"queries": {"i2t": len(encoded.kept), "t2i": len(captions)},
                 "decided_by_tie": tie_fragility(i2t, t2i)},
        "chance": chance_recalls(caption_image, len(encoded.kept), ks),
    }
