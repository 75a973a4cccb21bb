"""k-NN on frozen features."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from rsvl.evaluation.datasets import load_classification
from rsvl.evaluation.knn import knn_classify, knn_scores
from rsvl.models import LoadedModel


def test_knn_votes_by_hand() -> None:
    train = F.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), dim=-1)
    labels = torch.tensor([0, 0, 1])
    test = F.normalize(torch.tensor([[1.0, 0.05], [0.1, 1.0]]), dim=-1)
    scores = knn_scores(train, labels, test, 2, k=1)
    assert scores.argmax(1).tolist() == [0, 1]
    # k=3 with a high temperature: plain counting, two votes for class 0 everywhere.
    assert knn_scores(train, labels, test, 2, k=3, temperature=1e6).argmax(1).tolist() == [0, 0]


def test_knn_classify_records_protocol(micro: LoadedModel, class_tree: Path) -> None:
    outcome = knn_classify(micro, load_classification(class_tree), k=3)
    assert outcome["protocol"]["k"] == 3 and outcome["task"] == "knn"
    assert 0 <= outcome["metrics"]["acc1"] <= 1
