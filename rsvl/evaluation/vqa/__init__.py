"""VQA evaluators: answer RSVQA questions zero-shot with CLIP or with a trained fusion head over
frozen features, and score them per question type (OA, AA) beside the baselines that could
explain the score (majority answer, per-type majority, question-only head).

    >>> from rsvl.vqa import read_rsvqa
    >>> from rsvl.evaluation.vqa import evaluate_vqa, train_vqa_head
    >>> head = train_vqa_head(model, read_rsvqa("vqa", "train"))  # doctest: +SKIP
    >>> evaluate_vqa(model, read_rsvqa("vqa", "test"), method="head", head=head)  # doctest: +SKIP
"""

from rsvl.evaluation.vqa.evaluate import (
    VqaSplits,
    evaluate_vqa,
    majority_baseline,
    vqa_baselines,
    vqa_metrics,
)
from rsvl.evaluation.vqa.head import (
    HeadRecipe,
    TrainedHead,
    load_head,
    predict_head,
    save_head,
    train_vqa_head,
)
from rsvl.evaluation.vqa.zero_shot import candidate_answers, zero_shot_answers

__all__ = [
    "HeadRecipe",
    "TrainedHead",
    "VqaSplits",
    "candidate_answers",
    "evaluate_vqa",
    "load_head",
    "majority_baseline",
    "predict_head",
    "save_head",
    "train_vqa_head",
    "vqa_baselines",
    "vqa_metrics",
    "zero_shot_answers",
]
