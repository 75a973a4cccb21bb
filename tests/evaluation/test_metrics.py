"""Metrics against hand-computed values and a naive full-matrix retrieval reference."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rsvl.evaluation.metrics import (
    classification_metrics,
    confusion_matrix,
    mean_per_class_recall,
    per_class_recall,
    retrieval_metrics,
    retrieval_ranks,
    topk_accuracy,
)

# 4 images, 3 classes. Rows are logits; argmax = [0, 2, 1, 1]; labels = [0, 1, 1, 2].
LOGITS = torch.tensor([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0], [0.0, 5.0, 1.0], [1.0, 2.0, 0.0]])
LABELS = torch.tensor([0, 1, 1, 2])


def test_topk_accuracy_by_hand() -> None:
    assert topk_accuracy(LOGITS, LABELS, 1) == pytest.approx(2 / 4)
    # top-2 sets: {0,1}, {2,1}, {1,2}, {1,0}: hits 1, 1, 1, 0
    assert topk_accuracy(LOGITS, LABELS, 2) == pytest.approx(3 / 4)
    assert math.isnan(topk_accuracy(LOGITS, LABELS, 5))


def test_confusion_and_recalls_by_hand() -> None:
    confusion = confusion_matrix(LABELS, LOGITS.argmax(1), 3)
    assert confusion.tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 0]]
    assert per_class_recall(confusion) == [1.0, 0.5, 0.0]
    assert mean_per_class_recall(confusion) == pytest.approx(0.5)


def test_classes_without_images_are_left_out_of_the_mean() -> None:
    confusion = confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 2, 1]), 3)
    assert math.isnan(per_class_recall(confusion)[2])
    assert mean_per_class_recall(confusion) == pytest.approx((0.5 + 1.0) / 2)


def test_classification_metrics_record_everything() -> None:
    metrics = classification_metrics(LOGITS, LABELS, ["a", "b", "c"])
    assert metrics["acc1"] == pytest.approx(0.5)
    assert math.isnan(metrics["acc5"])
    assert metrics["per_class_accuracy"] == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert metrics["confusion_matrix"][1] == [0, 1, 1]


def test_retrieval_hand_worked_example() -> None:
    # 2 images on the axes; 3 captions: caption 0 and 1 belong to image 0, caption 2 to image 1.
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    texts = F.normalize(torch.tensor([[0.2, 1.0], [1.0, 0.1], [1.0, 0.5]]), dim=-1)
    caption_image = torch.tensor([0, 0, 1])
    i2t, t2i = retrieval_ranks(images, texts, caption_image, chunk_size=1)
    # image 0 scores texts [0.196, 0.995, 0.894]: best correct (text 1) is first -> rank 0.
    # image 1 scores texts [0.981, 0.0995, 0.447]: its text 2 is second -> rank 1.
    assert i2t.tolist() == [0, 1]
    # text 0 prefers image 1 (rank 1 for image 0); text 1 prefers image 0 (rank 0);
    # text 2 prefers image 0 (rank 1 for image 1).
    assert t2i.tolist() == [1, 0, 1]
    metrics = retrieval_metrics(images, texts, caption_image, ks=(1, 2))
    assert metrics["i2t_r1"] == pytest.approx(0.5) and metrics["i2t_r2"] == 1.0
    assert metrics["t2i_r1"] == pytest.approx(1 / 3) and metrics["t2i_r2"] == 1.0
    assert metrics["mean_recall"] == pytest.approx(100 * (0.5 + 1 + 1 / 3 + 1) / 4)


def naive_recalls(images: torch.Tensor, texts: torch.Tensor, caption_image: torch.Tensor,
                  k: int) -> tuple[float, float]:
    """Full-matrix reference: sort every row and look for any correct item in the top k."""
    scores = texts @ images.T
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(texts)), caption_image] = True
    top_images = scores.argsort(dim=1, descending=True)[:, :k]
    t2i = positive.gather(1, top_images).any(dim=1).float().mean()
    top_texts = scores.T.argsort(dim=1, descending=True)[:, :k]
    i2t = positive.T.gather(1, top_texts).any(dim=1).float().mean()
    return float(i2t), float(t2i)


@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_chunked_retrieval_matches_the_naive_reference(chunk_size: int) -> None:
    generator = torch.Generator().manual_seed(0)
    images = F.normalize(torch.randn(40, 8, generator=generator), dim=-1)
    captions_per_image = torch.randint(1, 6, (40,), generator=generator)
    caption_image = torch.repeat_interleave(torch.arange(40), captions_per_image)
    texts = F.normalize(images[caption_image] + 0.8 * torch.randn(len(caption_image), 8,
                                                                   generator=generator), dim=-1)
    metrics = retrieval_metrics(images, texts, caption_image, ks=(1, 5, 10), chunk_size=chunk_size)
    for k in (1, 5, 10):
        i2t, t2i = naive_recalls(images, texts, caption_image, k)
        assert metrics[f"i2t_r{k}"] == pytest.approx(i2t)
        assert metrics[f"t2i_r{k}"] == pytest.approx(t2i)
    assert 0 < metrics["t2i_r1"] < metrics["t2i_r10"] <= 1
