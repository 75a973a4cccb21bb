"""Zero-shot VQA: candidate answers per type, prompts scored against the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.vqa.zero_shot import candidate_answers, zero_shot_answers
from rsvl.vqa.rsvl_format import VqaQuestion, read_rsvqa, write_rsvqa


def _toy(root: Path) -> None:
    (root / "Images").mkdir(parents=True)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "Images" / "0.png")
    (root / "Images" / "1.png").write_bytes(b"not an image")
    questions = [VqaQuestion(0, 0, "presence", "Is there a road?", "yes"),
                 VqaQuestion(1, 0, "presence", "Is there a house?", "no"),
                 VqaQuestion(2, 0, "count", "How many houses are there?", "3"),
                 VqaQuestion(3, 1, "presence", "Is there a road?", "no")]
    write_rsvqa(root, "LR", "test", [{"id": 0}, {"id": 1}], questions)


def test_candidates_are_frequent_answers_per_type(tmp_path: Path) -> None:
    _toy(tmp_path)
    assert candidate_answers(read_rsvqa(tmp_path)) == {"count": ["3"],
                                                       "presence": ["no", "yes"]}


def test_answers_come_from_the_candidates(tmp_path: Path, vqa_tiny_model: Any) -> None:
    _toy(tmp_path)
    dataset = read_rsvqa(tmp_path)
    options = FeatureOptions(cache_dir=tmp_path / "cache")
    predictions, skipped = zero_shot_answers(vqa_tiny_model, dataset, dataset, options)
    assert predictions[0] in ("yes", "no") and predictions[1] in ("yes", "no")
    assert predictions[2] == "3"
    assert predictions[3] is None and len(skipped) == 1 and "1.png" in skipped[0]
    assert any((tmp_path / "cache" / "vqa_text").iterdir())
    assert zero_shot_answers(vqa_tiny_model, dataset, dataset, options) == (predictions, skipped)
