"""``rsvl eval vqa``: zero-shot on a built set writes a result JSON; a head needs training data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.cli import eval_vqa
from rsvl.errors import ConfigError
from rsvl.vqa.rsvl_format import VqaQuestion, write_rsvqa


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    eval_vqa.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_head_needs_training_data(shared_data: Path) -> None:
    args = _args("--model", "rsvl-micro", "--data", str(shared_data / "rsvqa_lr_sample"),
                 "--method", "head")
    with pytest.raises(ConfigError, match="--method head needs --head FOLDER or --train-split"):
        eval_vqa.run(args)


def _dataset(root: Path) -> int:
    """Four images, yes/no and count questions in train and test splits; test size."""
    rng = np.random.default_rng(0)
    (root / "Images_OSM").mkdir(parents=True)
    for image_id in range(4):
        pixels = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "Images_OSM" / f"{image_id}.png")
    for split, ids in (("train", (0, 1, 2)), ("test", (3,))):
        questions = [VqaQuestion(10 * i + k, i, qtype, text, answer) for i in ids
                     for k, (qtype, text, answer) in enumerate([
                         ("presence", "Is there a road?", "yes" if i % 2 else "no"),
                         ("count", "How many houses are there?", str(i))])]
        write_rsvqa(root, "OSM", split, [{"id": i} for i in ids], questions)
    return 2


def test_head_trained_saved_and_evaluated(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    test_questions = _dataset(tmp_path / "data")
    args = _args("--model", "rsvl-micro", "--data", str(tmp_path / "data"), "--method", "head",
                 "--train-split", "train", "--epochs", "3", "--save-head", str(tmp_path / "h"),
                 "--out", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"),
                 "--device", "cpu")
    assert eval_vqa.run(args) == 0
    path = Path(capsys.readouterr().out.strip())
    result = json.loads(path.read_text())
    assert result["task"] == "vqa-head" and result["split"] == "test"
    assert result["metrics"]["num_questions"] == test_questions
    assert (tmp_path / "h" / "vqa_head.json").is_file()
