"""Retrieval end to end: captions of unreadable images dropped; real images from WHU-RS19."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.evaluation.datasets import load_retrieval
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
