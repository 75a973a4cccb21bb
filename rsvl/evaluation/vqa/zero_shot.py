"""Zero-shot VQA with a CLIP model: score candidate answers as text against the image.

Each candidate answer of the question's type (the most frequent answers of that type in the
reference split) is turned into a prompt ``"{question} {answer}"``; the answer whose prompt
embedding is most similar to the image embedding wins. No training; with an untrained model
this is near chance, with a remote-sensing CLIP it shows what the text tower understands.
"""

from __future__ import annotations

from collections import Counter

import torch

from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.vqa.answers import scored_answer
from rsvl.evaluation.vqa.features import cached_text_features, question_image_features
from rsvl.models import LoadedModel
from rsvl.vqa.rsvl_format import VqaSet

PROMPT = "{question} {answer}"
MAX_CANDIDATES = 20


def candidate_answers(reference: VqaSet, limit: int = MAX_CANDIDATES,
                      bin_counts: bool = False) -> dict[str, list[str]]:
    """Per question type, its ``limit`` most frequent answers in ``reference`` (ties: sorted);
    with ``bin_counts`` the count candidates are the LR bins that occur."""
    by_type: dict[str, Counter[str]] = {}
    for q in reference.questions:
        answer = scored_answer(q.type, q.answer, bin_counts)
        by_type.setdefault(q.type, Counter())[answer] += 1
    return {t: sorted(c, key=lambda a: (-c[a], a))[:limit] for t, c in sorted(by_type.items())}


def zero_shot_answers(loaded: LoadedModel, dataset: VqaSet, reference: VqaSet,
                      options: FeatureOptions | None = None,
                      bin_counts: bool = False) -> tuple[list[str | None], list[str]]:
    """Predict each question's answer; ``None`` where the image is unreadable or the type
    has no candidates in ``reference``. With ``bin_counts`` count questions get LR bins.

    Returns:
        ``(predictions, skipped images)``.
    """
    candidates = candidate_answers(reference, bin_counts=bin_counts)
    features = question_image_features(loaded, dataset, options)
    prompts = sorted({PROMPT.format(question=q.question, answer=a)
                      for q in dataset.questions for a in candidates.get(q.type, [])})
    cache_dir = options.cache_dir if options else None
    encoded = cached_text_features(loaded, prompts, cache_dir) if prompts else torch.zeros(0)
    row = {p: i for i, p in enumerate(prompts)}
    predictions: list[str | None] = []
    for index, q in enumerate(dataset.questions):
        answers = candidates.get(q.type, [])
        if not answers or not features.readable[index]:
            predictions.append(None)
            continue
        texts = encoded[[row[PROMPT.format(question=q.question, answer=a)] for a in answers]]
        predictions.append(answers[int((texts @ features.image[index]).argmax())])
    return predictions, features.skipped
