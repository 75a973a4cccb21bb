"""RSVQA-style visual question answering: build question sets from OSM, read the official
layout, answer zero-shot with CLIP or with a trained fusion head, evaluate per question type.

    >>> from rsvl.vqa import VqaBuildConfig, build_vqa, read_rsvqa
    >>> config = VqaBuildConfig(osm="region.osm", imagery="ortho.tif", out="vqa")
    >>> build_vqa(config)  # doctest: +SKIP
    >>> train, test = read_rsvqa("vqa", "train"), read_rsvqa("vqa", "test")  # doctest: +SKIP
"""

from rsvl.vqa.build import VqaBuildConfig, VqaBuildResult, build_vqa
from rsvl.vqa.evaluate import evaluate_vqa, majority_baseline, vqa_metrics
from rsvl.vqa.head import TrainedHead, load_head, predict_head, save_head, train_vqa_head
from rsvl.vqa.questions import QuestionOptions, bin_answer, list_categories
from rsvl.vqa.rsvl_format import VqaQuestion, VqaSet, list_splits, read_rsvqa, write_rsvqa
from rsvl.vqa.zero_shot import candidate_answers, zero_shot_answers

__all__ = [
    "QuestionOptions",
    "TrainedHead",
    "VqaBuildConfig",
    "VqaBuildResult",
    "VqaQuestion",
    "VqaSet",
    "bin_answer",
    "build_vqa",
    "candidate_answers",
    "evaluate_vqa",
    "list_categories",
    "list_splits",
    "load_head",
    "majority_baseline",
    "predict_head",
    "read_rsvqa",
    "save_head",
    "train_vqa_head",
    "vqa_metrics",
    "write_rsvqa",
    "zero_shot_answers",
]
