"""Seeded stratified train/test splits of frozen features for linear probes and k-NN."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rsvl.errors import ConfigError
from rsvl.evaluation.datasets import ClassificationSet
from rsvl.evaluation.features import FeatureOptions, ImageFeatures, image_features
from rsvl.models import LoadedModel


def stratified_split(
    labels: Sequence[int], test_fraction: float = 0.2, k_shot: int | None = None, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Per class, a seeded shuffle: the first ``round(test_fraction * n)`` (at least one when the
    class has two or more images) are test; of the rest, the first ``k_shot`` (or all) train.

    The test set does not depend on ``k_shot``, so few-shot results are comparable across k.
    """
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test fraction must be between 0 and 1, got {test_fraction}")
    if k_shot is not None and k_shot < 1:
        raise ConfigError(f"k-shot must be at least 1, got {k_shot}")
    generator = torch.Generator().manual_seed(seed)
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    train, test = [], []
    for label in sorted(by_class):
        members = by_class[label]
        order = [members[i] for i in torch.randperm(len(members), generator=generator).tolist()]
        n_test = max(1, round(test_fraction * len(order))) if len(order) > 1 else 0
        test += order[:n_test]
        train += order[n_test:][:k_shot]
    return sorted(train), sorted(test)


@dataclass
class ProbeData:
    """Frozen features split for training a probe."""

    train_features: torch.Tensor
    train_labels: torch.Tensor
    test_features: torch.Tensor
    test_labels: torch.Tensor
    encoded: ImageFeatures
    protocol: dict[str, Any]


def probe_data(
    loaded: LoadedModel,
    dataset: ClassificationSet,
    *,
    k_shot: int | None,
    test_fraction: float,
    seed: int,
    options: FeatureOptions | None,
) -> ProbeData:
    """Image features of ``dataset`` split by :func:`stratified_split` (readable images only)."""
    encoded = image_features(loaded, dataset.paths, options)
    labels = torch.tensor(dataset.labels)[encoded.kept]
    train, test = stratified_split(labels.tolist(), test_fraction, k_shot, seed)
    protocol = {
        "split_rule": f"seeded stratified split per class: {test_fraction:g} test, "
        f"{'all' if k_shot is None else k_shot} of the rest per class train",
        "seed": seed,
        "k_shot": k_shot,
        "test_fraction": test_fraction,
        "num_train": len(train),
        "classes": dataset.classes,
    }
    return ProbeData(encoded.features[train], labels[train], encoded.features[test], labels[test],
                     encoded, protocol)
