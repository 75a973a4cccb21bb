"""Image features: unreadable images skipped and counted (or an error), on-disk cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from rsvl.errors import InputError
from rsvl.evaluation.datasets import load_classification
from rsvl.evaluation.features import FeatureOptions, cache_key, image_features, text_features
from rsvl.models import LoadedModel


def test_broken_image_is_skipped_and_counted(micro: LoadedModel, class_tree: Path) -> None:
    paths = load_classification(class_tree).paths
    encoded = image_features(micro, paths, FeatureOptions(batch_size=4))
    assert len(encoded.kept) == 9 and len(encoded.skipped) == 1
    assert "SeaLake_9.jpg" in encoded.skipped[0]
    assert paths[encoded.kept[0]] == paths[0]
    assert torch.allclose(encoded.features.norm(dim=1), torch.ones(9), atol=1e-5)
    with pytest.raises(InputError, match="unreadable image .*SeaLake_9.jpg.*--strict"):
        image_features(micro, paths, FeatureOptions(strict=True))


def test_cache_is_reused_and_invalidated_by_a_changed_file(micro: LoadedModel, class_tree: Path,
                                                           tmp_path: Path) -> None:
    paths = load_classification(class_tree).paths
    options = FeatureOptions(cache_dir=tmp_path / "cache")
    first = image_features(micro, paths, options)
    cached = list((tmp_path / "cache" / "features").glob("*.safetensors"))
    assert len(cached) == 1
    second = image_features(micro, paths, options)
    assert torch.equal(first.features, second.features) and second.skipped == first.skipped
    key = cache_key(micro, paths)
    os.utime(paths[1], ns=(1, 1))
    assert cache_key(micro, paths) == key  # touched, same bytes: the same features
    paths[1].write_bytes(paths[0].read_bytes())
    assert cache_key(micro, paths) != key


def test_text_features_are_normalised(micro: LoadedModel) -> None:
    encoded = text_features(micro, ["a pond", "a runway", "a beach"], batch_size=2)
    assert encoded.shape == (3, 32)
    assert torch.allclose(encoded.norm(dim=1), torch.ones(3), atol=1e-5)
    raw = text_features(micro, ["a pond"], normalize=False)
    assert not torch.allclose(raw.norm(dim=1), torch.ones(1))
