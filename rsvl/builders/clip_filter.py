"""Image-text scores of built pairs, with the evaluators' model loading and encoders.

SkyScript kept the top 30-50% of its pairs by CLIP similarity; :func:`clip_scores` gives the
cosine similarity of each chip with its primary caption, and
:func:`rsvl.builders.filters.keep_top_fraction` makes the cut.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rsvl.data.atomic import write_json
from rsvl.data.records import Record


def clip_scores(root: Path, records: Sequence[Record], model_spec: str,
                device: str | None = None) -> list[float]:
    """Cosine similarity between each chip and its first caption under ``model_spec``.

    Args:
        root: Dataset root holding the chips.
        records: The records to score.
        model_spec: Any spec :func:`rsvl.models.load_clip` accepts (``ViT-B-32:openai``,
            an export folder, ``rsvl-tiny`` from scratch...).
        device: Torch device; picked automatically when ``None``.

    Returns:
        One score per record, in order.
    """
    if not records:
        return []
    from rsvl.evaluation.features import FeatureOptions, image_features, text_features
    from rsvl.models import load_clip

    loaded = load_clip(model_spec, device=device)
    images = image_features(loaded, [root / r.image for r in records],
                            FeatureOptions(strict=True))
    texts = text_features(loaded, [r.captions[0] for r in records])
    return (images.features * texts).sum(dim=-1).tolist()


def cached_clip_scores(root: Path, records: Sequence[Record], model_spec: str,
                       cache: Path) -> list[float]:
    """:func:`clip_scores`, remembered in ``cache`` (key -> score) across reruns.

    A resumed build must not score again: the chips the cut dropped are deleted, and scoring
    is the slowest stage.
    """
    known: dict[str, float] = json.loads(cache.read_text()) if cache.is_file() else {}
    missing = [r for r in records if r.key not in known]
    known.update(zip((r.key for r in missing), clip_scores(root, missing, model_spec),
                     strict=True))
    write_json(cache, known)
    return [known[r.key] for r in records]
