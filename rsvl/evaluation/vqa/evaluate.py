"""The RSVQA evaluator: accuracy per question type, OA, AA, count confusion, majority baseline.

Protocol (``eval/README.md``): exact match of the predicted and the reference answer;
overall accuracy (OA) over all questions, average accuracy (AA) = mean of the per-type
accuracies. With ``bin_counts`` the count answers (reference and prediction) are mapped to the
RSVQA-LR bins first. Results are written with :mod:`rsvl.evaluation.results`, so they show
up in ``rsvl report`` (``acc1`` there is the OA).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from rsvl.errors import ConfigError
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.metrics import confusion_matrix
from rsvl.models import LoadedModel
from rsvl.vqa.questions import bin_count_answer
from rsvl.vqa.rsvl_format import VqaSet

COUNT_TYPE = "count"


def vqa_metrics(types: Sequence[str], truths: Sequence[str],
                predictions: Sequence[str | None]) -> dict[str, Any]:
    """Accuracy per type, OA, AA and the confusion of count answers.

    Args:
        types: Question type of each question.
        truths: Reference answers.
        predictions: Predicted answers (``None``: no prediction, counted wrong).

    Returns:
        ``oa``, ``aa``, ``acc1`` (= ``oa``), ``per_type_accuracy``, ``per_type_count`` and
        ``count_confusion`` (``labels`` and ``matrix``, rows = reference answers).
    """
    if not len(types) == len(truths) == len(predictions) or not types:
        raise ValueError("vqa_metrics needs equally long, non-empty types, truths, predictions")
    right: Counter[str] = Counter()
    total: Counter[str] = Counter(types)
    for qtype, truth, predicted in zip(types, truths, predictions, strict=True):
        right[qtype] += predicted == truth
    per_type = {t: right[t] / total[t] for t in sorted(total)}
    oa = sum(right.values()) / len(types)
    metrics: dict[str, Any] = {
        "oa": oa, "acc1": oa, "aa": sum(per_type.values()) / len(per_type),
        "per_type_accuracy": per_type, "per_type_count": dict(sorted(total.items())),
        "num_questions": len(types),
    }
    counts = [(t, p) for q, t, p in zip(types, truths, predictions, strict=True) if q == COUNT_TYPE]
    if counts:
        labels = sorted({t for t, _ in counts} | {p for _, p in counts if p is not None},
                        key=lambda a: (not a.isdigit(), int(a) if a.isdigit() else 0, a))
        index = {a: i for i, a in enumerate(labels)}
        matrix = confusion_matrix(torch.tensor([index[t] for t, p in counts if p is not None]),
                                  torch.tensor([index[p] for _, p in counts if p is not None]),
                                  len(labels))
        metrics["count_confusion"] = {"labels": labels, "matrix": matrix.tolist()}
    return metrics


def majority_answers(train: VqaSet) -> tuple[str, dict[str, str]]:
    """The most frequent training answer overall and per question type (ties: smallest)."""
    def most(answers: Sequence[str]) -> str:
        counts = Counter(answers)
        return min(counts, key=lambda a: (-counts[a], a))

    per_type = {t: most([q.answer for q in train.questions if q.type == t])
                for t in sorted({q.type for q in train.questions})}
    return most([q.answer for q in train.questions]), per_type


def majority_baseline(train: VqaSet, test: VqaSet, bin_counts: bool = False) -> dict[str, Any]:
    """Metrics of answering every test question with the majority training answer.

    Returns:
        ``{"overall": metrics, "per_type": metrics}``: the single most frequent answer, and
        the most frequent answer of each question's type.
    """
    overall, per_type = majority_answers(train)
    types, truths = _references(test, bin_counts)
    fix = _binner(bin_counts)
    return {
        "overall": vqa_metrics(types, truths, [fix(t, overall) for t in types]),
        "per_type": vqa_metrics(types, truths, [fix(t, per_type.get(t, overall)) for t in types]),
    }


def _binner(bin_counts: bool) -> Any:
    return lambda qtype, answer: (bin_count_answer(answer) if bin_counts and qtype == COUNT_TYPE
                                  and answer is not None else answer)


def _references(dataset: VqaSet, bin_counts: bool) -> tuple[list[str], list[str]]:
    fix = _binner(bin_counts)
    return ([q.type for q in dataset.questions],
            [fix(q.type, q.answer) for q in dataset.questions])


def evaluate_vqa(
    loaded: LoadedModel,
    dataset: VqaSet,
    *,
    method: str = "zero-shot",
    train: VqaSet | None = None,
    head: Any = None,
    bin_counts: bool = False,
    options: FeatureOptions | None = None,
) -> dict[str, Any]:
    """Answer ``dataset``'s questions and score them; returns an outcome for ``make_result``.

    Args:
        loaded: The CLIP model.
        dataset: The questions to answer.
        method: ``zero-shot`` (candidate answers scored as text) or ``head`` (trained head).
        train: Training split: majority baseline and, for zero-shot, the candidate answers
            (default: the evaluated set's own answers, as for a benchmark without train split).
        head: The trained head (:class:`rsvl.evaluation.vqa.head.TrainedHead`), for
            ``method="head"``.
        bin_counts: Score counts by their LR bins.
        options: Image feature batch size, cache folder, workers.

    Returns:
        ``task`` (``vqa-zeroshot`` or ``vqa-head``), ``dataset``, ``protocol``, ``metrics``
        (with ``majority_oa`` and ``majority_per_type_oa``), ``num_images``,
        ``skipped_images`` and ``predictions``.
    """
    from rsvl.evaluation.vqa.head import predict_head
    from rsvl.evaluation.vqa.zero_shot import PROMPT, zero_shot_answers

    methods = {
        "zero-shot": lambda: zero_shot_answers(loaded, dataset, train or dataset, options,
                                               bin_counts),
        "head": lambda: predict_head(head, loaded, dataset, options),
    }
    if method not in methods:
        raise ConfigError(f"unknown VQA method {method!r}; choose from {', '.join(methods)}")
    if method == "head" and head is None:
        raise ConfigError("method 'head' needs a trained head "
                          "(rsvl.evaluation.vqa.head.train_vqa_head)")
    predictions, skipped = methods[method]()
    fix = _binner(bin_counts)
    types, truths = _references(dataset, bin_counts)
    metrics = vqa_metrics(types, truths, [fix(t, p) for t, p in zip(types, predictions,
                                                                       strict=True)])
    baseline = majority_baseline(train or dataset, dataset, bin_counts)
    metrics["majority_oa"] = baseline["overall"]["oa"]
    metrics["majority_per_type_oa"] = baseline["per_type"]["oa"]
    protocol: dict[str, Any] = {"method": method, "bin_counts": bin_counts,
                                "prefix": dataset.prefix,
                                "train_split": train.split if train else None,
                                "skipped_inactive": dict(dataset.skipped)}
    protocol |= ({"prompt": PROMPT} if method == "zero-shot" else head.protocol())
    return {
        "task": "vqa-zeroshot" if method == "zero-shot" else "vqa-head",
        "dataset": {"name": dataset.name, "split": dataset.split, "path": str(dataset.root),
                    "layout": "rsvqa"},
        "protocol": protocol,
        "metrics": metrics,
        "num_images": len(dataset.images),
        "skipped_images": skipped,
        "predictions": predictions,
    }
