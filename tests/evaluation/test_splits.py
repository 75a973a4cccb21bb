"""Seeded stratified splits."""

from __future__ import annotations

import pytest

from rsvl.errors import ConfigError
from rsvl.evaluation.splits import stratified_split

LABELS = [0] * 10 + [1] * 5 + [2]


def test_split_is_stratified_seeded_and_disjoint() -> None:
    train, test = stratified_split(LABELS, test_fraction=0.2, seed=3)
    assert not set(train) & set(test) and len(train) + len(test) == len(LABELS)
    assert sorted(LABELS[i] for i in test) == [0, 0, 1]  # single-image class stays in train
    assert stratified_split(LABELS, 0.2, seed=3) == (train, test)
    assert stratified_split(LABELS, 0.2, seed=4) != (train, test)


def test_few_shot_keeps_the_same_test_set() -> None:
    _, test = stratified_split(LABELS, 0.2, seed=0)
    train, few_test = stratified_split(LABELS, 0.2, k_shot=2, seed=0)
    assert few_test == test
    assert sorted(LABELS[i] for i in train) == [0, 0, 1, 1, 2]


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        stratified_split(LABELS, 1.5)
    with pytest.raises(ConfigError):
        stratified_split(LABELS, 0.2, k_shot=0)
