"""load_model and RsvlModel: embeddings, zero-shot classification, similarity, exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import rsvl
from rsvl.api import RsvlModel, load_model
from rsvl.errors import ConfigError, InputError
from rsvl.models import export_model

LABELS = ["forest", "river", "residential area"]


def test_top_level_exports() -> None:
    assert rsvl.load_model is load_model
    assert rsvl.ImageIndex.__name__ == "ImageIndex"


def test_scratch_specs_are_seeded(micro_model: RsvlModel) -> None:
    again = load_model("rsvl-micro", device="cpu")
    assert again.checksum == micro_model.checksum
    assert micro_model.embed_dim == 32 and micro_model.device == "cpu"


def test_encode_images_mixed_inputs(micro_model: RsvlModel, image_folder: Path) -> None:
    images = [image_folder / "a.jpg", np.zeros((10, 10, 3), np.uint8), torch.rand(3, 9, 9)]
    features = micro_model.encode_images(images, batch_size=2)
    assert features.shape == (3, 32) and features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    single = micro_model.encode_images(image_folder / "a.jpg")
    np.testing.assert_allclose(single[0], features[0], atol=1e-5)  # batching does not matter
    assert micro_model.encode_images(torch.rand(5, 3, 8, 8)).shape == (5, 32)


def test_classify_top_k_probabilities(micro_model: RsvlModel, image_folder: Path) -> None:
    images = sorted(image_folder.glob("*.png"))
    full = micro_model.classify(images, LABELS, top_k=10)
    assert len(full) == len(images)
    for prediction in full:
        assert [label for label, _ in prediction] != [] and len(prediction) == 3
        probabilities = [p for _, p in prediction]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    top1 = micro_model.classify(images, LABELS, templates=["a photo of {c}"], top_k=1)
    assert all(len(p) == 1 and p[0][0] in LABELS for p in top1)
    by_hand = micro_model.encode_images(images) @ micro_model.class_embeddings(
        LABELS, ["a photo of {c}"]).T
    assert [LABELS[i] for i in by_hand.argmax(axis=1)] == [p[0][0] for p in top1]


def test_similarity_and_texts(micro_model: RsvlModel, image_folder: Path) -> None:
    texts = micro_model.encode_texts(["a river", "a forest"])
    assert texts.shape == (2, 32)
    images = [image_folder / "a.jpg", image_folder / "b.png"]
    similarity = micro_model.similarity(images, ["a river", "a forest"])
    np.testing.assert_allclose(similarity, micro_model.encode_images(images) @ texts.T, atol=1e-5)
    assert micro_model.image_names(images) == [str(p) for p in images]


@pytest.mark.parametrize("labels, options, expected", [
    ("forest,river", {}, "not the string"),
    (["forest", "forest"], {}, "duplicates"),
    ([], {}, "non-empty list"),
    (LABELS, {"top_k": 0}, "top_k must be at least 1"),
    (LABELS, {"templates": ["no placeholder"]}, "containing {c}"),
    (LABELS, {"templates": "no-such-set"}, "unknown template set"),
])
def test_wrong_classify_arguments(micro_model: RsvlModel, labels: object, options: dict,
                                  expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        micro_model.classify(np.zeros((8, 8, 3), np.uint8), labels, **options)  # type: ignore[arg-type]
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_wrong_texts(micro_model: RsvlModel) -> None:
    with pytest.raises(InputError, match="non-empty strings"):
        micro_model.encode_texts(["ok", " "])


def test_export_folder_round_trip(micro_model: RsvlModel, tmp_path: Path) -> None:
    folder = export_model(micro_model.loaded.model, "rsvl-micro", tmp_path / "export")
    loaded = load_model(str(folder), device="cpu")
    assert loaded.checksum == micro_model.checksum
    assert loaded.spec == str(folder.resolve())


def test_classify_real_scenes(micro_model: RsvlModel, shared_data: Path) -> None:
    images = sorted((shared_data / "whu_rs19_mini").glob("*/*.jpg"))[::10]
    predictions = micro_model.classify(images, ["airport", "beach", "forest", "river"], top_k=2)
    assert len(predictions) == len(images) == 19
