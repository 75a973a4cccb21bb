"""``rsvl eval vqa``: a runner task like the others; --dataset (and the old --data) both work,
a stored result of the same protocol is reused, a head needs training data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.cli import main
from rsvl.vqa.rsvl_format import VqaQuestion, write_rsvqa


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


def test_head_needs_training_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _dataset(tmp_path / "data")
    code = main(["eval", "vqa", "--model", "rsvl-micro", "--dataset", str(tmp_path / "data"),
                 "--method", "head", "--out", str(tmp_path / "r"), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "needs a trained head (--head FOLDER) or a training split" in err


def test_missing_dataset_flag_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "vqa", "--model", "rsvl-micro"]) == 2
    assert "needs --dataset FOLDER" in capsys.readouterr().err


def test_head_trained_saved_evaluated_and_reused(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    test_questions = _dataset(tmp_path / "data")
    argv = ["eval", "vqa", "--model", "rsvl-micro", "--method", "head", "--train-split", "train",
            "--epochs", "3", "--save-head", str(tmp_path / "h"), "--out", str(tmp_path / "r"),
            "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]
    # The old flag name still works; --dataset is the documented one.
    assert main([*argv, "--data", str(tmp_path / "data")]) == 0
    captured = capsys.readouterr()
    path = Path(captured.out.strip())
    result = json.loads(path.read_text())
    assert result["task"] == "vqa-head" and result["split"] == "test"
    assert result["metrics"]["num_questions"] == test_questions
    assert set(result["metrics"]["baselines"]) == {"majority", "per_type_majority",
                                                   "question_only"}
    assert "question-only" in captured.err and "OA=" in captured.err
    assert (tmp_path / "h" / "vqa_head.json").is_file()
    assert main([*argv, "--dataset", str(tmp_path / "data")]) == 0
    captured = capsys.readouterr()
    assert "kept existing result" in captured.err and Path(captured.out.strip()) == path
    # Another recipe is another protocol: recomputed, not reused.
    assert main([*argv, "--dataset", str(tmp_path / "data"), "--epochs", "4"]) == 0
    assert "kept existing" not in capsys.readouterr().err


def test_help_documents_dataset_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "vqa", "--help"])
    out = capsys.readouterr().out
    assert "--dataset" in out and "--data " not in out and "--val-fraction" in out


def test_every_head_recipe_field_has_a_flag() -> None:
    import dataclasses

    from rsvl.cli.evaluate import HEAD_FLAGS
    from rsvl.evaluation.vqa import HeadRecipe

    assert set(HEAD_FLAGS) == {f.name for f in dataclasses.fields(HeadRecipe)}
