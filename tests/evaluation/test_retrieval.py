"""Retrieval end to end: unreadable images dropped; WHU-RS19 images; RSICD val vs CLIP_benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rsvl.evaluation.datasets import load_retrieval
from rsvl.evaluation.features import text_features
from rsvl.evaluation.metrics import recall_metrics, retrieval_hits, tie_fragility
from rsvl.evaluation.retrieval import evaluate_retrieval
from rsvl.models import LoadedModel


def test_generated_karpathy_set(micro: LoadedModel, karpathy: Path) -> None:
    (karpathy.parent / "images" / "im3.png").write_bytes(b"broken")
    outcome = evaluate_retrieval(micro, load_retrieval(karpathy), ks=(1, 2))
    assert outcome["num_images"] == 3 and outcome["num_captions"] == 6
    assert len(outcome["skipped_images"]) == 1
    metrics = outcome["metrics"]
    assert set(metrics) == {"i2t_r1", "i2t_r2", "t2i_r1", "t2i_r2", "mean_recall"}
    assert metrics["i2t_r2"] >= metrics["i2t_r1"]


@pytest.mark.slow
def test_whu_rs19_mini_as_a_caption_set(micro: LoadedModel, shared_data: Path,
                                        tmp_path: Path) -> None:
    root = shared_data / "whu_rs19_mini"
    images = []
    for i, path in enumerate(sorted(root.glob("*/*.jpg"))[::5]):
        scene = path.parent.name
        images.append({"filename": path.name, "filepath": scene, "imgid": i, "split": "test",
                       "sentences": [{"raw": f"a satellite image of {scene}"},
                                     {"raw": f"an aerial view of a {scene} area"}]})
    (tmp_path / "dataset.json").write_text(json.dumps({"images": images}))
    (tmp_path / "images").symlink_to(root)
    dataset = load_retrieval(tmp_path / "dataset.json")
    outcome = evaluate_retrieval(micro, dataset, chunk_size=7)
    assert outcome["num_images"] == 38 and outcome["num_captions"] == 76
    assert 0 <= outcome["metrics"]["mean_recall"] <= 100
    assert outcome["protocol"]["ks"] == [1, 5, 10]


class _EmbeddingModel:
    """Serves fixed embeddings by index, so CLIP_benchmark scores exactly the embeddings rsvl
    scores: images are looked up by their index, captions by their distinct-sentence id."""

    def __init__(self, images: torch.Tensor, sentences: torch.Tensor) -> None:
        self.images, self.sentences = images, sentences

    def encode_image(self, index: torch.Tensor) -> torch.Tensor:
        return self.images[index]

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        return self.sentences[ids]


@pytest.mark.slow
def test_rsicd_val_equals_clip_benchmark(micro: LoadedModel, shared_data: Path) -> None:
    """Real captions, heavily repeated (2,310 distinct of 5,469): rsvl's recalls equal
    CLIP_benchmark 1.6.2's ``zeroshot_retrieval.evaluate`` bit for bit. The image tower is
    replaced by the mean of each image's caption embeddings (micro's text tower), a model good
    enough that repeated captions tie at the decisive rank for hundreds of queries."""
    zeroshot_retrieval = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval")
    dataset = load_retrieval(shared_data / "rsicd_val" / "dataset_rsicd_val.json", split="val")
    distinct = sorted(set(dataset.captions))
    sentence_id = {sentence: i for i, sentence in enumerate(distinct)}
    ids = torch.tensor([sentence_id[c] for c in dataset.captions])
    caption_image = torch.tensor(dataset.caption_image)
    sentences = text_features(micro, distinct, normalize=False).double()
    images = torch.zeros(len(dataset.image_paths), sentences.shape[1], dtype=torch.float64)
    images.index_add_(0, caption_image, F.normalize(sentences, dim=-1)[ids])

    i2t, t2i = retrieval_hits(F.normalize(images, dim=-1), F.normalize(sentences, dim=-1)[ids],
                              caption_image)
    ours = recall_metrics(i2t, t2i)
    assert tie_fragility(i2t, t2i)["i2t_r1"] > 50  # the ties are decisive on this set
    batches = [(torch.arange(start, min(start + 64, len(images))),
                [[distinct[ids[c]] for c in (caption_image == i).nonzero().flatten()]
                 for i in range(start, min(start + 64, len(images)))])
               for start in range(0, len(images), 64)]
    theirs = zeroshot_retrieval.evaluate(
        _EmbeddingModel(images, sentences), batches,
        lambda texts: torch.tensor([sentence_id[t] for t in texts]), "cpu", amp=False,
        recall_k_list=[1, 5, 10])
    for k in (1, 5, 10):
        # CLIP_benchmark averages in float32: compare at its precision, exactly.
        assert theirs[f"text_retrieval_recall@{k}"] == _float32(ours[f"i2t_r{k}"])
        assert theirs[f"image_retrieval_recall@{k}"] == _float32(ours[f"t2i_r{k}"])


def _float32(value: float) -> float:
    return float(torch.tensor(value, dtype=torch.float32))
