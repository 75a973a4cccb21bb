"""Read and write the official RSVQA layout (Lobry et al. 2020).

A dataset folder holds ``Images_LR/`` (or ``Images_HR/``, ``Images/``) with ``{id}.tif`` or
``{id}.png`` images and, per split, three JSON files
``{PREFIX}_split_{SPLIT}_{questions,answers,images}.json`` (``PREFIX`` is ``LR``, ``USGS`` or
any name; ``SPLIT`` is ``train``, ``val``, ``test`` or any name, e.g. ``sample``):

- ``{"questions": [{"id", "img_id", "type", "question", "answers_ids", "active"}]}``
- ``{"answers": [{"id", "question_id", "answer", "active"}]}``
- ``{"images": [{"id", "questions_ids", "active", ...}]}``

As the format intends, inactive questions, answers and images are skipped (an active question
whose answers are all inactive is skipped too). Broken data raises :class:`InputError` in one
line: invalid JSON, a question about an image that is not listed or has no file, a question
naming an answer that does not exist, answers whose question does not exist.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsvl.data.atomic import write_json
from rsvl.errors import InputError

PARTS = ("questions", "answers", "images")
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg")
_SPLIT_FILE = re.compile(r"^(?P<prefix>.+)_split_(?P<split>.+)_questions\.json$")


@dataclass(frozen=True)
class VqaQuestion:
    """One active question with its answer.

    Attributes:
        id: Question id in the questions file.
        image_id: Id of the image it asks about.
        type: Question type (``presence``, ``comp``, ``count``, ``rural_urban``, ``area``).
        question: The question text.
        answer: The (first active) answer.
    """

    id: int
    image_id: int
    type: str
    question: str
    answer: str


@dataclass
class VqaSet:
    """The active questions of one split of an RSVQA-layout dataset.

    Attributes:
        name: Dataset name (the folder's name).
        root: Dataset folder.
        prefix: File prefix (``LR``, ``USGS``...).
        split: Split name (``train``, ``test``, ``sample``...).
        images: Image id -> image file, for the images active questions ask about.
        questions: Active questions, in file order.
        skipped: Inactive entries skipped, per kind (``questions``, ``answers``, ``images``).
    """

    name: str
    root: Path
    prefix: str
    split: str
    images: dict[int, Path]
    questions: list[VqaQuestion]
    skipped: Counter[str] = field(default_factory=Counter)

    def type_counts(self) -> dict[str, int]:
        """Number of questions per type."""
        return dict(Counter(q.type for q in self.questions))

    def image_paths(self) -> list[Path]:
        """Image files in image-id order (the order features are computed in)."""
        return [self.images[i] for i in sorted(self.images)]


def list_splits(root: str | Path) -> list[tuple[str, str]]:
    """``(prefix, split)`` of every questions file in ``root``."""
    found = (_SPLIT_FILE.match(p.name) for p in sorted(Path(root).glob("*_questions.json")))
    return [(m["prefix"], m["split"]) for m in found if m]


def _load(path: Path, part: str) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InputError(f"{path} not found: an RSVQA split needs its {', '.join(PARTS)} files")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not valid JSON ({error}); fix or re-download it") from None
    entries = payload.get(part) if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{path} has no '{part}' list; is it an RSVQA {part} file?")
    return entries


def _images_folder(root: Path, prefix: str) -> Path:
    for name in (f"Images_{prefix}", "Images_LR", "Images_HR", "Images"):
        if (root / name).is_dir():
            return root / name
    raise InputError(f"no image folder in {root}: expected Images_{prefix}/ or Images/")


def _image_file(folder: Path, image_id: int) -> Path | None:
    return next((folder / f"{image_id}{s}" for s in IMAGE_SUFFIXES
                 if (folder / f"{image_id}{s}").is_file()), None)


def _choose_split(root: Path, prefix: str | None, split: str | None) -> tuple[str, str]:
    splits = [(p, s) for p, s in list_splits(root)
              if (prefix is None or p == prefix) and (split is None or s == split)]
    if len(splits) != 1:
        available = ", ".join(f"{p}/{s}" for p, s in list_splits(root)) or "none"
        what = "no" if not splits else "several"
        raise InputError(f"{what} RSVQA split matches prefix={prefix} split={split} in {root} "
                         f"(available prefix/split: {available}); pass --prefix/--split")
    return splits[0]


def read_rsvqa(root: str | Path, split: str | None = None, prefix: str | None = None,
               name: str | None = None) -> VqaSet:
    """Read the active questions of one split.

    Args:
        root: Dataset folder.
        split: Split name; ``None`` when the folder holds exactly one.
        prefix: File prefix (``LR``, ``USGS``...); ``None`` when unambiguous.
        name: Dataset name (default: the folder's name).

    Raises:
        InputError: Missing or invalid files, or inconsistent entries (see module docstring).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"RSVQA dataset folder {root} not found")
    prefix, split = _choose_split(root, prefix, split)
    paths = {part: root / f"{prefix}_split_{split}_{part}.json" for part in PARTS}
    try:
        return _read_split(root, prefix, split, paths, name or root.resolve().name)
    except KeyError as error:
        raise InputError(f"an entry of {root}/{prefix}_split_{split}_*.json lacks the field "
                         f"{error}; fix or re-download the split") from None
    except (TypeError, AttributeError) as error:  # an entry or a field of another JSON type
        raise InputError(f"an entry of {root}/{prefix}_split_{split}_*.json is malformed "
                         f"({error}); fix or re-download the split") from None


def _read_split(root: Path, prefix: str, split: str, paths: dict[str, Path],
                name: str) -> VqaSet:
    questions, answers, images = (_load(paths[part], part) for part in PARTS)
    skipped: Counter[str] = Counter()
    question_ids = {q["id"] for q in questions}
    orphan = next((a for a in answers if a["question_id"] not in question_ids), None)
    if orphan is not None:
        raise InputError(f"{paths['answers']}: answer {orphan['id']} belongs to question "
                         f"{orphan['question_id']}, which {paths['questions'].name} lacks "
                         "(answers without questions); fix or re-download the split")
    answer_by_id = {a["id"]: a for a in answers}
    skipped["answers"] = sum(not a.get("active", True) for a in answers)
    image_by_id = {i["id"]: i for i in images}
    skipped["images"] = sum(not i.get("active", True) for i in images)
    folder = _images_folder(root, prefix)
    kept: list[VqaQuestion] = []
    files: dict[int, Path] = {}
    for entry in questions:
        image = image_by_id.get(entry["img_id"])
        if not entry.get("active", True) or (image is not None and not image.get("active", True)):
            skipped["questions"] += 1
            continue
        if image is None:
            raise InputError(f"{paths['questions']}: question {entry['id']} refers to image "
                             f"{entry['img_id']}, which {paths['images'].name} does not list")
        missing = [i for i in entry["answers_ids"] if i not in answer_by_id]
        if missing:
            raise InputError(f"{paths['questions']}: question {entry['id']} names answer "
                             f"{missing[0]}, which {paths['answers'].name} lacks")
        active = [answer_by_id[i]["answer"] for i in entry["answers_ids"]
                  if answer_by_id[i].get("active", True)]
        if not active:
            skipped["questions"] += 1
            continue
        if entry["img_id"] not in files:
            path = _image_file(folder, entry["img_id"])
            if path is None:
                raise InputError(f"{paths['questions']}: question {entry['id']} refers to image "
                                 f"{entry['img_id']}, but {folder} has no {entry['img_id']}.tif "
                                 "or .png")
            files[entry["img_id"]] = path
        if not isinstance(entry["question"], str) or not isinstance(entry["type"], str):
            raise InputError(f"{paths['questions']}: question {entry['id']} has a 'question' or "
                             "'type' that is not text; fix or re-download the split")
        kept.append(VqaQuestion(entry["id"], entry["img_id"], entry["type"], entry["question"],
                                str(active[0])))
    return VqaSet(name, root, prefix, split, files, kept, skipped)


def write_rsvqa(root: str | Path, prefix: str, split: str,
                images: Sequence[dict[str, Any]], questions: Sequence[VqaQuestion]) -> list[Path]:
    """Write one split's three JSON files (every entry active); images go in by the caller.

    Answer ids equal question ids (as in the official files). ``images`` are the image
    records (``id`` plus any extra fields such as ``original_name``); their ``questions_ids``
    and ``active`` are filled in here.

    Returns:
        The three written paths.
    """
    root = Path(root)
    by_image: dict[int, list[int]] = {}
    for q in questions:
        by_image.setdefault(q.image_id, []).append(q.id)
    payloads = {
        "questions": [{"id": q.id, "img_id": q.image_id, "type": q.type, "question": q.question,
                       "answers_ids": [q.id], "active": True} for q in questions],
        "answers": [{"id": q.id, "question_id": q.id, "answer": q.answer, "active": True}
                    for q in questions],
        "images": [{**image, "questions_ids": by_image.get(image["id"], []), "active": True}
                   for image in images],
    }
    written = []
    for part in PARTS:
        path = root / f"{prefix}_split_{split}_{part}.json"
        write_json(path, {part: payloads[part]})
        written.append(path)
    return written
