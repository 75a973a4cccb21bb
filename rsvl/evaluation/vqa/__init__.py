"""VQA evaluators: answer RSVQA questions zero-shot with CLIP or with a trained fusion head over
frozen features, and score them per question type (OA, AA) beside the answer-prior baselines.

    >>> from rsvl.vqa import read_rsvqa
    >>> from rsvl.evaluation.vqa import evaluate_vqa, train_vqa_head
    >>> head = train_vqa_head(model, read_rsvqa("vqa", "train"))  # doctest: +SKIP
    >>> evaluate_vqa(model, read_rsvqa("vqa", "test"), method="head", head=head)  # doctest: +SKIP
"""

from rsvl.evaluation.vqa.evaluate import evaluate_vqa, majority_baseline, vqa_metrics
from rsvl.evaluation.vqa.head import (
    TrainedHead,
    load_head,
    predict_head,
    save_head,
    train_vqa_head,
)
from rsvl.evaluation.vqa.zero_shot import candidate_answers, zero_shot_answers

__all__ = [
    "TrainedHead",
    "candidate_answers",
    "evaluate_vqa",
    "load_head",
    "majority_baseline",
    "predict_head",
    "save_head",
    "train_vqa_head",
    "vqa_metrics",
    "zero_shot_answers",
]
