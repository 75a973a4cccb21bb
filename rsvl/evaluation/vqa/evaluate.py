"""The RSVQA evaluator: accuracy per question type, OA, AA, count confusion, and the baselines
that could explain a VQA number.

Protocol (RSVQA, Lobry et al. 2020; ``eval/README.md``): exact match of the predicted and the
reference answer; overall accuracy (OA) over all questions, average accuracy (AA) = mean of the
per-type accuracies. With ``bin_counts`` the count answers (reference and prediction) are
mapped to the RSVQA-LR bins first. Beside every score: the majority answer of the training
split, each question type's majority answer, and (with a training split) the question-only
head: the same head and recipe trained with every image replaced by a constant. Results are
written with :mod:`rsvl.evaluation.results`, so they show up in ``rsvl report`` (``acc1``
there is the OA).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, astuple, dataclass
from typing import Any

import torch

from rsvl.errors import ConfigError, InputError
from rsvl.evaluation.datasets import files_fingerprint
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.metrics import confusion_matrix
from rsvl.evaluation.vqa.answers import COUNT_TYPE, scored_answer
from rsvl.evaluation.vqa.head import HeadRecipe, TrainedHead, predict_head, train_vqa_head
from rsvl.evaluation.vqa.zero_shot import PROMPT, zero_shot_answers
from rsvl.models import LoadedModel
from rsvl.vqa.rsvl_format import VqaSet

METHODS = {"zero-shot": "vqa-zeroshot", "head": "vqa-head"}
BASELINES = ("majority", "per_type_majority", "question_only")


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
        raise InputError("vqa_metrics needs equally long, non-empty types, truths and "
                         "predictions; is the evaluated split empty?")
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


@dataclass
class VqaSplits:
    """The split a VQA evaluation scores and its optional training split.

    Attributes:
        evaluated: The questions answered and scored.
        train: Training questions (baselines, zero-shot candidates, the head's data).
    """

    evaluated: VqaSet
    train: VqaSet | None = None

    @property
    def name(self) -> str:
        """The dataset's name."""
        return self.evaluated.name

    @property
    def split(self) -> str:
        """The evaluated split's name."""
        return self.evaluated.split

    def fingerprint(self) -> str:
        """What a result is computed on: both splits' questions and answers, and their image
        files' paths and content."""
        digest = hashlib.sha256()
        paths = []
        for split in (self.evaluated, self.train):
            rows = None if split is None else [split.prefix, split.split,
                                               [astuple(q) for q in split.questions]]
            digest.update(json.dumps(rows).encode())
            paths += split.image_paths() if split is not None else []
        return files_fingerprint(paths, digest)


def vqa_task(method: str) -> str:
    """The result task of a VQA method (``vqa-zeroshot``, ``vqa-head``)."""
    if method not in METHODS:
        raise ConfigError(f"unknown VQA method {method!r}; choose from {', '.join(METHODS)}")
    return METHODS[method]


def majority_answers(train: VqaSet, bin_counts: bool = False) -> tuple[str, dict[str, str]]:
    """The most frequent training answer overall and per question type (ties: smallest)."""
    def most(answers: Sequence[str]) -> str:
        counts = Counter(answers)
        return min(counts, key=lambda a: (-counts[a], a))

    scored = [(q.type, scored_answer(q.type, q.answer, bin_counts)) for q in train.questions]
    per_type = {t: most([a for qt, a in scored if qt == t]) for t in sorted({t for t, _ in scored})}
    return most([a for _, a in scored]), per_type


def majority_baseline(train: VqaSet, test: VqaSet, bin_counts: bool = False) -> dict[str, Any]:
    """Metrics of answering every test question with the majority training answer.

    Returns:
        ``{"overall": metrics, "per_type": metrics}``: the single most frequent answer, and
        the most frequent answer of each question's type.
    """
    overall, per_type = majority_answers(train, bin_counts)
    types, truths = _references(test, bin_counts)
    return {
        "overall": vqa_metrics(types, truths, [scored_answer(t, overall, bin_counts)
                                               for t in types]),
        "per_type": vqa_metrics(types, truths, [per_type.get(t, overall) for t in types]),
    }


def _references(dataset: VqaSet, bin_counts: bool) -> tuple[list[str], list[str]]:
    return ([q.type for q in dataset.questions],
            [scored_answer(q.type, q.answer, bin_counts) for q in dataset.questions])


def _score(dataset: VqaSet, predictions: Sequence[str | None], bin_counts: bool
           ) -> dict[str, Any]:
    types, truths = _references(dataset, bin_counts)
    return vqa_metrics(types, truths, [p if p is None else scored_answer(t, p, bin_counts)
                                       for t, p in zip(types, predictions, strict=True)])


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics[k] for k in ("oa", "aa", "per_type_accuracy")}


def vqa_baselines(loaded: LoadedModel, dataset: VqaSet, train: VqaSet | None, *,
                  bin_counts: bool = False, recipe: HeadRecipe | None = None, seed: int = 0,
                  options: FeatureOptions | None = None) -> dict[str, Any]:
    """The baselines of a VQA score on ``dataset``: ``majority`` (the most frequent training
    answer), ``per_type_majority`` (each type's) and ``question_only`` (the head trained on
    ``train`` with every image replaced by a constant; ``None`` without a training split).

    Without ``train`` the majorities come from ``dataset`` itself (an upper bound on what an
    answer prior could score). Each baseline is ``{"oa", "aa", "per_type_accuracy"}``.
    """
    majority = majority_baseline(train or dataset, dataset, bin_counts)
    blind = None
    if train is not None:
        head = train_vqa_head(loaded, train, recipe, seed=seed, bin_counts=bin_counts,
                              question_only=True, options=options)
        blind = _summary(_score(dataset, predict_head(head, loaded, dataset, options)[0],
                                bin_counts))
    return {"majority": _summary(majority["overall"]),
            "per_type_majority": _summary(majority["per_type"]), "question_only": blind}


def evaluate_vqa(
    loaded: LoadedModel,
    dataset: VqaSet,
    *,
    method: str = "zero-shot",
    train: VqaSet | None = None,
    head: TrainedHead | None = None,
    bin_counts: bool = False,
    recipe: HeadRecipe | None = None,
    seed: int = 0,
    options: FeatureOptions | None = None,
) -> dict[str, Any]:
    """Answer ``dataset``'s questions and score them beside the baselines; returns an outcome
    for ``make_result``.

    Args:
        loaded: The CLIP model.
        dataset: The questions to answer.
        method: ``zero-shot`` (candidate answers scored as text) or ``head`` (trained head).
        train: Training split: baselines and, for zero-shot, the candidate answers
            (default: the evaluated set's own answers, as for a benchmark without train split).
        head: The trained head (:func:`rsvl.evaluation.vqa.head.train_vqa_head`), for
            ``method="head"``.
        bin_counts: Score counts by their LR bins.
        recipe, seed: How the question-only baseline is trained (a head's own recipe and seed
            take precedence: the baseline differs from the head only by its input).
        options: Image feature batch size, cache folder, workers.

    Returns:
        ``task`` (``vqa-zeroshot`` or ``vqa-head``), ``dataset``, ``protocol``, ``metrics``
        (with ``majority_oa``, ``majority_per_type_oa``, ``question_only_oa`` (None without a
        training split) and ``baselines``), ``num_images``, ``skipped_images``,
        ``predictions``.
    """
    task = vqa_task(method)
    if method == "head":
        if head is None:
            raise ConfigError("method 'head' needs a trained head "
                              "(rsvl.evaluation.vqa.head.train_vqa_head)")
        if head.config.get("bin_counts", False) != bin_counts:
            raise ConfigError(f"this VQA head was trained with bin_counts="
                              f"{head.config.get('bin_counts', False)}; evaluate it the same way")
        recipe, seed = HeadRecipe(**head.config["recipe"]), head.config["seed"]
        predictions, skipped = predict_head(head, loaded, dataset, options)
    else:
        predictions, skipped = zero_shot_answers(loaded, dataset, train or dataset, options,
                                                 bin_counts)
    metrics = _score(dataset, predictions, bin_counts)
    baselines = vqa_baselines(loaded, dataset, train, bin_counts=bin_counts, recipe=recipe,
                              seed=seed, options=options)
    blind = baselines["question_only"]
    metrics |= {"majority_oa": baselines["majority"]["oa"],
                "majority_per_type_oa": baselines["per_type_majority"]["oa"],
                "question_only_oa": blind["oa"] if blind else None, "baselines": baselines}
    protocol: dict[str, Any] = {"method": method, "bin_counts": bin_counts,
                                "prefix": dataset.prefix,
                                "train_split": train.split if train else None,
                                "skipped_inactive": dict(dataset.skipped),
                                "question_only": {"recipe": asdict(recipe or HeadRecipe()),
                                                  "seed": seed} if train else None}
    protocol |= ({"prompt": PROMPT} if head is None else head.protocol())
    return {
        "task": task,
        "dataset": {"name": dataset.name, "split": dataset.split, "path": str(dataset.root),
                    "layout": "rsvqa"},
        "protocol": protocol,
        "metrics": metrics,
        "num_images": len(dataset.images),
        "skipped_images": skipped,
        "predictions": predictions,
    }
