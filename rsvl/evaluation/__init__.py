"""Evaluators: zero-shot classification, retrieval, linear probe and k-NN, under written protocols.

Library use (the CLI, the API and the VQA evaluator call the same functions)::

    from rsvl.models import load_clip
    from rsvl.evaluation import load_classification, zero_shot_classify, get_templates

    loaded = load_clip("rsvl-micro")
    dataset = load_classification("../shared/data/whu_rs19_mini")
    outcome = zero_shot_classify(loaded, dataset, get_templates("rs5m"))
    outcome["metrics"]["acc1"]
"""

from rsvl.evaluation.datasets import (
    ClassificationSet,
    RetrievalSet,
    load_classification,
    load_retrieval,
)
from rsvl.evaluation.features import FeatureOptions, image_features, text_features
from rsvl.evaluation.knn import knn_classify
from rsvl.evaluation.linear_probe import linear_probe
from rsvl.evaluation.metrics import classification_metrics, retrieval_metrics
from rsvl.evaluation.prompts import get_preset, get_templates, list_presets, list_template_sets
from rsvl.evaluation.registry import get_benchmark, list_benchmarks
from rsvl.evaluation.report import build_report, write_report
from rsvl.evaluation.results import make_result, read_results, write_result
from rsvl.evaluation.retrieval import evaluate_retrieval
from rsvl.evaluation.zeroshot import zero_shot_classifier, zero_shot_classify

__all__ = [
    "ClassificationSet",
    "FeatureOptions",
    "RetrievalSet",
    "build_report",
    "classification_metrics",
    "evaluate_retrieval",
    "get_benchmark",
    "get_preset",
    "get_templates",
    "image_features",
    "knn_classify",
    "linear_probe",
    "list_benchmarks",
    "list_presets",
    "list_template_sets",
    "load_classification",
    "load_retrieval",
    "make_result",
    "read_results",
    "retrieval_metrics",
    "text_features",
    "write_report",
    "write_result",
    "zero_shot_classifier",
    "zero_shot_classify",
]
