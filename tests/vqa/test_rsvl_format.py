"""The RSVQA layout: the real LR sample, a write/read round trip, inactive and broken entries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.errors import InputError
from rsvl.vqa.rsvl_format import VqaQuestion, list_splits, read_rsvqa, write_rsvqa


def test_reads_the_lr_sample(shared_data: Path) -> None:
    dataset = read_rsvqa(shared_data / "rsvqa_lr_sample")
    assert (dataset.prefix, dataset.split, dataset.name) == ("LR", "sample", "rsvqa_lr_sample")
    assert len(dataset.questions) == 5005
    assert dataset.type_counts() == {"comp": 1993, "presence": 1491, "count": 1471,
                                     "rural_urban": 50}
    assert len(dataset.images) == 50
    assert all(p.suffix == ".png" and p.parent.name == "Images_LR" for p in dataset.images.values())
    first = dataset.questions[0]
    assert (first.type, first.question, first.answer) == (
        "rural_urban", "Is it a rural or an urban area", "rural")
    assert sum(dataset.skipped.values()) == 0


def _write(root: Path, suffix: str = ".tif", folder: str = "Images_LR") -> list[VqaQuestion]:
    (root / folder).mkdir(parents=True)
    for image_id in (0, 1):
        pixels = np.full((8, 8, 3), 40 * (image_id + 1), np.uint8)
        Image.fromarray(pixels).save(root / folder / f"{image_id}{suffix}")
    questions = [VqaQuestion(0, 0, "presence", "Is there a road?", "yes"),
                 VqaQuestion(1, 0, "count", "How many houses are there?", "3"),
                 VqaQuestion(2, 1, "rural_urban", "Is it a rural or an urban area", "urban")]
    write_rsvqa(root, "LR", "test", [{"id": 0, "original_name": "a.tif"}, {"id": 1}], questions)
    return questions


def _edit(root: Path, part: str, change) -> None:  # type: ignore[no-untyped-def]
    path = root / f"LR_split_test_{part}.json"
    payload = json.loads(path.read_text())
    change(payload[part])
    path.write_text(json.dumps(payload))


@pytest.mark.parametrize(("suffix", "folder"), [(".tif", "Images_LR"), (".png", "Images")])
def test_round_trip(tmp_path: Path, suffix: str, folder: str) -> None:
    questions = _write(tmp_path, suffix, folder)
    assert list_splits(tmp_path) == [("LR", "test")]
    dataset = read_rsvqa(tmp_path, "test")
    assert dataset.questions == questions
    assert dataset.images[1] == tmp_path / folder / f"1{suffix}"
    images = json.loads((tmp_path / "LR_split_test_images.json").read_text())["images"]
    assert images[0] == {"id": 0, "original_name": "a.tif", "questions_ids": [0, 1],
                         "active": True}


def test_inactive_entries_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path)

    def deactivate_question(entries: list) -> None:  # type: ignore[type-arg]
        entries[0]["active"] = False

    def deactivate_answer(entries: list) -> None:  # type: ignore[type-arg]
        entries[1]["active"] = False

    def deactivate_image(entries: list) -> None:  # type: ignore[type-arg]
        entries[1]["active"] = False

    _edit(tmp_path, "questions", deactivate_question)
    _edit(tmp_path, "answers", deactivate_answer)
    _edit(tmp_path, "images", deactivate_image)
    (tmp_path / "Images_LR" / "1.tif").unlink()  # an inactive image needs no file
    dataset = read_rsvqa(tmp_path)
    assert dataset.questions == []
    assert dict(dataset.skipped) == {"questions": 3, "answers": 1, "images": 1}


def test_question_about_a_missing_image(tmp_path: Path) -> None:
    _write(tmp_path)
    _edit(tmp_path, "questions", lambda q: q[2].update(img_id=7))
    with pytest.raises(InputError, match="question 2 refers to image 7, which "
                       "LR_split_test_images.json does not list"):
        read_rsvqa(tmp_path)


def test_question_whose_image_file_is_missing(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "Images_LR" / "1.tif").unlink()
    with pytest.raises(InputError, match=r"question 2 refers to image 1, but .* has no 1.tif"):
        read_rsvqa(tmp_path)


def test_answers_without_questions(tmp_path: Path) -> None:
    _write(tmp_path)
    _edit(tmp_path, "questions", lambda q: q.pop())
    with pytest.raises(InputError, match="answers without questions"):
        read_rsvqa(tmp_path)


def test_question_naming_a_missing_answer(tmp_path: Path) -> None:
    _write(tmp_path)
    _edit(tmp_path, "questions", lambda q: q[0].update(answers_ids=[99]))
    with pytest.raises(InputError, match="names answer 99"):
        read_rsvqa(tmp_path)


def test_malformed_json(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "LR_split_test_answers.json").write_text('{"answers": [')
    with pytest.raises(InputError, match="LR_split_test_answers.json is not valid JSON"):
        read_rsvqa(tmp_path)
    (tmp_path / "LR_split_test_answers.json").write_text('{"rows": []}')
    with pytest.raises(InputError, match="has no 'answers' list"):
        read_rsvqa(tmp_path)


def test_entry_missing_a_field(tmp_path: Path) -> None:
    _write(tmp_path)
    _edit(tmp_path, "questions", lambda q: q[1].pop("question"))
    with pytest.raises(InputError, match="lacks the field 'question'"):
        read_rsvqa(tmp_path)


def test_split_choice(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_rsvqa(tmp_path / "nowhere")
    _write(tmp_path)
    write_rsvqa(tmp_path, "LR", "train", [{"id": 0}], [])
    with pytest.raises(InputError, match="several RSVQA split.*LR/test, LR/train"):
        read_rsvqa(tmp_path)
    with pytest.raises(InputError, match="no RSVQA split matches"):
        read_rsvqa(tmp_path, "val")
    assert read_rsvqa(tmp_path, "train").questions == []
