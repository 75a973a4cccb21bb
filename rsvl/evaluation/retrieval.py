"""Text-image retrieval: R@1/5/10 both ways and mean recall, several captions per image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rsvl.evaluation.datasets import RetrievalSet, describe
from rsvl.evaluation.features import FeatureOptions, image_features, text_features
from rsvl.evaluation.metrics import retrieval_metrics
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

    Unreadable images are dropped together with their captions (and counted).

    Returns:
        ``{"task", "dataset", "metrics", "protocol", "num_images", "num_captions",
        "skipped_images"}``; metrics ``i2t_r{k}``, ``t2i_r{k}`` in [0, 1] and ``mean_recall``.
    """
    encoded = image_features(loaded, dataset.image_paths, options)
    position = {image: i for i, image in enumerate(encoded.kept)}
    kept_captions = [c for c, image in enumerate(dataset.caption_image) if image in position]
    captions = [dataset.captions[c] for c in kept_captions]
    caption_image = torch.tensor([position[dataset.caption_image[c]] for c in kept_captions])
    texts = text_features(loaded, captions)
    return {
        "task": "retrieval",
        "dataset": describe(dataset),
        "metrics": retrieval_metrics(encoded.features, texts, caption_image, ks, chunk_size),
        "protocol": {
            "score": "cosine similarity of L2-normalised embeddings",
            "success": "a correct item among the top k (ties count in the query's favour)",
            "ks": list(ks),
            "mean_recall": "mean of i2t and t2i R@k x 100",
        },
        "num_images": len(encoded.kept),
        "num_captions": len(captions),
        "skipped_images": encoded.skipped,
    }
