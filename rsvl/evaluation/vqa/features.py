"""Frozen CLIP features of a VQA set: one image embedding per image, one text embedding per
distinct question, both cached on disk by the model's checksum.

Image features come from :func:`rsvl.evaluation.features.image_features` (and share its
cache); text features are cached here under ``<cache_dir>/vqa_text/<key>.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from rsvl.data.atomic import atomic_open
from rsvl.evaluation.features import FeatureOptions, image_features, text_features
from rsvl.models import LoadedModel
from rsvl.vqa.rsvl_format import VqaSet


@dataclass
class QuestionFeatures:
    """Per-question features of a VQA set.

    Attributes:
        image: ``[questions, dim]`` L2-normalised image embedding of each question's image
            (zeros where the image could not be read).
        readable: ``[questions]`` bool: the question's image decoded.
        skipped: ``path: reason`` of the unreadable images.
    """

    image: torch.Tensor
    readable: torch.Tensor
    skipped: list[str]


def question_image_features(loaded: LoadedModel, dataset: VqaSet,
                            options: FeatureOptions | None = None) -> QuestionFeatures:
    """Encode each image once (cached) and spread the embeddings over its questions."""
    ids = sorted(dataset.images)
    encoded = image_features(loaded, [dataset.images[i] for i in ids], options)
    row_of = {ids[k]: row for row, k in enumerate(encoded.kept)}
    rows = torch.tensor([row_of.get(q.image_id, -1) for q in dataset.questions])
    readable = rows >= 0
    image = torch.zeros(len(rows), encoded.features.shape[1])
    image[readable] = encoded.features[rows[readable]]
    return QuestionFeatures(image, readable, encoded.skipped)


def cached_text_features(loaded: LoadedModel, texts: Sequence[str],
                         cache_dir: str | Path | None = None) -> torch.Tensor:
    """L2-normalised text embeddings of ``texts``, cached by model checksum and texts."""
    if cache_dir is None:
        return text_features(loaded, texts)
    digest = hashlib.sha256(json.dumps([loaded.checksum, list(texts)]).encode()).hexdigest()
    path = Path(cache_dir) / "vqa_text" / f"{digest}.safetensors"
    if path.is_file():
        return load_file(path)["features"]
    features = text_features(loaded, texts)
    with atomic_open(path, "wb") as handle:
        handle.write(save({"features": features.contiguous()}))
    return features


def question_text_features(loaded: LoadedModel, dataset: VqaSet,
                           cache_dir: str | Path | None = None) -> torch.Tensor:
    """``[questions, dim]`` embedding of each question's text (each distinct text encoded once)."""
    texts = sorted({q.question for q in dataset.questions})
    features = cached_text_features(loaded, texts, cache_dir)
    index = {t: i for i, t in enumerate(texts)}
    return features[torch.tensor([index[q.question] for q in dataset.questions])]
