"""Metrics against hand-computed values, an unchunked torch.topk reference and CLIP_benchmark."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rsvl.errors import InputError
from rsvl.evaluation.metrics import (
    chance_recalls,
    classification_metrics,
    confusion_matrix,
    mean_per_class_recall,
    per_class_recall,
    recall_metrics,
    retrieval_hits,
    retrieval_metrics,
    tie_fragility,
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


def test_retrieval_hand_worked_example_with_ties() -> None:
    # 3 images on the axes. Captions 0 and 1 are the same sentence (same embedding e0) but
    # belong to images 0 and 1; caption 2 belongs to image 1, caption 3 to image 2.
    images = torch.eye(3)
    texts = F.normalize(torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0.5], [0, 0, 1.0]]),
                        dim=-1)
    caption_image = torch.tensor([0, 1, 1, 2])
    i2t, t2i = retrieval_hits(images, texts, caption_image, ks=(1, 2, 3))
    # Image 0 scores captions [1, 1, 0, 0]: its caption 0 ties with image 1's caption 1 for
    # rank 1, so R@1 rests on the tie (topk decides) and R@2 is a sure hit. Images 1 and 2
    # find their captions (0.894, 1.0) first.
    assert i2t.fragile[1].tolist() == [True, False, False]
    assert i2t.hits[1].tolist()[1:] == [True, True] and i2t.hits[2].all()
    first = torch.topk(texts.double() @ images[0].double(), 1).indices.item()
    assert i2t.hits[1][0].item() == (caption_image[first].item() == 0)
    # Caption 1 (e0, of image 1) scores images [1, 0, 0]: image 0 beats its image 1, which ties
    # with image 2: a sure miss at 1, tie-decided at 2, a hit at 3. The others hit at 1.
    assert t2i.hits[1].tolist() == [True, False, True, True]
    assert t2i.fragile[2].tolist() == [False, True, False, False] and t2i.hits[3].all()
    assert tie_fragility(i2t, t2i) == {"i2t_r1": 1, "i2t_r2": 0, "i2t_r3": 0,
                                       "t2i_r1": 0, "t2i_r2": 1, "t2i_r3": 0}
    metrics = recall_metrics(i2t, t2i)
    assert metrics["t2i_r1"] == pytest.approx(3 / 4)
    assert metrics["i2t_r1"] in (pytest.approx(2 / 3), 1.0)
    assert metrics == retrieval_metrics(images, texts, caption_image, ks=(1, 2, 3), chunk_size=1)


def test_a_collapsed_model_scores_chance_not_100() -> None:
    caption_image = torch.arange(100).repeat_interleave(5)
    same = F.normalize(torch.ones(1, 8), dim=-1)
    i2t, t2i = retrieval_hits(same.expand(100, 8), same.expand(500, 8), caption_image)
    metrics, chance = recall_metrics(i2t, t2i), chance_recalls(caption_image, 100)
    assert all(flags.all() for flags in (*i2t.fragile.values(), *t2i.fragile.values()))
    assert metrics["mean_recall"] <= 2 * chance["mean_recall"] < 20  # chance: 5.3


def test_chance_recalls_by_hand() -> None:
    # 2 images, captions [0, 0, 1]: image 0 has 2 of 3 right, image 1 has 1 of 3.
    chance = chance_recalls(torch.tensor([0, 0, 1]), 2, ks=(1, 2))
    assert chance["i2t_r1"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert chance["i2t_r2"] == pytest.approx((1 + (1 - (2 / 3) * (1 / 2))) / 2)
    assert chance["t2i_r1"] == 0.5 and chance["t2i_r2"] == 1.0


def tied_set(seed: int, images: int = 60, dim: int = 6) -> tuple[torch.Tensor, ...]:
    """Small-integer features: many exactly equal embeddings and exactly equal scores (integer
    dot products are exact), captions repeated across images as in templated caption sets."""
    generator = torch.Generator().manual_seed(seed)
    image_features = torch.randint(-1, 2, (images, dim), generator=generator).double()
    caption_image = torch.repeat_interleave(
        torch.arange(images), torch.randint(1, 6, (images,), generator=generator))
    sentences = torch.randint(-1, 2, (12, dim), generator=generator).double()
    text_features = sentences[torch.randint(0, 12, (len(caption_image),), generator=generator)]
    return image_features, text_features, caption_image


def topk_reference(images: torch.Tensor, texts: torch.Tensor, caption_image: torch.Tensor,
                   k: int) -> tuple[float, float]:
    """Unchunked reference: the full score matrix, one torch.topk per direction."""
    scores = texts @ images.T
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(texts)), caption_image] = True
    t2i = positive.gather(1, scores.topk(k, dim=1).indices).any(dim=1).double().mean()
    i2t = positive.T.gather(1, scores.T.topk(k, dim=1).indices).any(dim=1).double().mean()
    return float(i2t), float(t2i)


@pytest.mark.parametrize(("seed", "chunk_size"), [(0, 1), (1, 7), (2, 1000), (3, 16)])
def test_chunked_retrieval_equals_unchunked_topk_with_ties(seed: int, chunk_size: int) -> None:
    images, texts, caption_image = tied_set(seed)
    i2t, t2i = retrieval_hits(images, texts, caption_image, (1, 5, 10), chunk_size)
    metrics = recall_metrics(i2t, t2i)
    for k in (1, 5, 10):
        reference = topk_reference(images, texts, caption_image, k)
        assert abs(metrics[f"i2t_r{k}"] - reference[0]) < 1e-9
        assert abs(metrics[f"t2i_r{k}"] - reference[1]) < 1e-9
    assert sum(tie_fragility(i2t, t2i).values()) > 0  # the ties really were decisive


def test_retrieval_equals_clip_benchmark_with_ties() -> None:
    zeroshot_retrieval = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval")
    for seed in range(4):
        images, texts, caption_image = tied_set(seed, images=90)
        scores = texts @ images.T
        positive = torch.zeros_like(scores, dtype=torch.bool)
        positive[torch.arange(len(texts)), caption_image] = True
        i2t, t2i = retrieval_hits(images, texts, caption_image, chunk_size=13)
        for k in (1, 5, 10):
            # CLIP_benchmark's per-query recall; > 0 is its R@k success, query by query.
            theirs_t2i = zeroshot_retrieval.batchify(zeroshot_retrieval.recall_at_k, scores,
                                                     positive, 32, "cpu", k=k) > 0
            theirs_i2t = zeroshot_retrieval.batchify(zeroshot_retrieval.recall_at_k, scores.T,
                                                     positive.T, 32, "cpu", k=k) > 0
            assert torch.equal(t2i.hits[k], theirs_t2i) and torch.equal(i2t.hits[k], theirs_i2t)


def test_non_finite_embeddings_are_one_line() -> None:
    with pytest.raises(InputError, match="non-finite image embeddings"):
        retrieval_metrics(torch.full((2, 3), math.nan), torch.ones(2, 3), torch.tensor([0, 1]))
