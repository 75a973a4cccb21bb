"""Linear probe: multinomial logistic regression on frozen, L2-normalised image features."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from rsvl.evaluation.datasets import ClassificationSet, describe
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.metrics import classification_metrics
from rsvl.evaluation.splits import probe_data
from rsvl.models import LoadedModel


def fit_logistic_regression(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    *,
    weight_decay: float = 1e-4,
    max_iter: int = 200,
) -> torch.nn.Linear:
    """Full-batch L-BFGS on cross-entropy + ``weight_decay * ||W||^2``.

    Weights start at zero, so the fit is deterministic (no seed needed).
    """
    linear = torch.nn.Linear(features.shape[1], num_classes)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=max_iter,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(linear(features), labels) + weight_decay * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return linear


def linear_probe(
    loaded: LoadedModel,
    dataset: ClassificationSet,
    *,
    k_shot: int | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    weight_decay: float = 1e-4,
    max_iter: int = 200,
    options: FeatureOptions | None = None,
) -> dict[str, Any]:
    """Train a logistic-regression probe on a seeded split of ``dataset`` and score its test part.

    Args:
        k_shot: Training images per class (few-shot); None uses every non-test image.
        test_fraction: Share of each class held out for testing.
        seed: Seed of the split.
    """
    data = probe_data(loaded, dataset, k_shot=k_shot, test_fraction=test_fraction, seed=seed,
                      options=options)
    with torch.enable_grad():
        probe = fit_logistic_regression(data.train_features, data.train_labels,
                                        len(dataset.classes), weight_decay=weight_decay,
                                        max_iter=max_iter)
    with torch.no_grad():
        logits = probe(data.test_features)
    return {
        "task": "linear-probe",
        "dataset": describe(dataset),
        "metrics": classification_metrics(logits, data.test_labels, dataset.classnames),
        "protocol": {**data.protocol, "classifier": "logistic regression, L-BFGS, zero init",
                     "weight_decay": weight_decay, "max_iter": max_iter},
        "num_images": len(data.encoded.kept),
        "skipped_images": data.encoded.skipped,
    }
