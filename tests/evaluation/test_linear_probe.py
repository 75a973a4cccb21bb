"""Linear probe: learns separable features; end to end on generated images."""

from __future__ import annotations

from pathlib import Path

import torch

from rsvl.evaluation.datasets import load_classification
from rsvl.evaluation.linear_probe import fit_logistic_regression, linear_probe
from rsvl.models import LoadedModel


def test_logistic_regression_separates_clusters() -> None:
    generator = torch.Generator().manual_seed(0)
    centres = torch.eye(3, 6) * 3
    labels = torch.arange(3).repeat(20)
    features = centres[labels] + 0.3 * torch.randn(60, 6, generator=generator)
    probe = fit_logistic_regression(features, labels, 3)
    assert (probe(features).argmax(1) == labels).float().mean() == 1.0
    again = fit_logistic_regression(features, labels, 3)
    assert torch.equal(probe.weight, again.weight)


def test_linear_probe_records_its_split(micro: LoadedModel, class_tree: Path) -> None:
    outcome = linear_probe(micro, load_classification(class_tree), k_shot=2, seed=1)
    protocol = outcome["protocol"]
    assert protocol["k_shot"] == 2 and protocol["seed"] == 1 and protocol["num_train"] == 6
    assert sum(map(sum, outcome["metrics"]["confusion_matrix"])) == 3
    assert outcome["num_images"] == 9
