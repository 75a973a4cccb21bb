"""Benchmark sets cut from a built caption dataset: OSM-attribute classes and caption retrieval.

- Classification: ``OUT/classification/<task>/<class>/<key>.jpg``, one folder per class (the
  layout of UC Merced, AID, RESISC45...), tasks read from ``data/classification_tasks.json``;
  classes with fewer than ``min_per_class`` images are dropped and reported.
- Retrieval: ``OUT/retrieval/images/<key>.jpg`` and ``OUT/retrieval/dataset.json`` in the
  Karpathy layout (RSICD, RSITMD, UCM-Captions), one entry per chip of the chosen split.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rsvl.data.atomic import write_json
from rsvl.data.records import Record
from rsvl.errors import ConfigError
from rsvl.osm.tags import attribute_phrase, attribute_tables, feature_phrase, feature_tables

_UNSAFE_CLASS_CHARS = re.compile(r"[^a-z0-9]+")
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class ClassificationTask:
    """How one OSM-attribute classification set assigns chips to classes.

    Attributes:
        name: Task name (the folder under ``classification/``).
        description: What the classes describe.
        keys: Tag keys whose value is the class, first present wins.
        requires: Keys that must also be present.
        ignore_values: Values that are no class (``building=yes``).
        phrase_names: Name classes by the phrase captions use for the value
            (``roof:shape=gabled`` -> ``gabled_roof``, ``building=apartments`` ->
            ``apartment_building``), so that zero-shot prompts say what captions say.
    """

    name: str
    description: str
    keys: tuple[str, ...]
    requires: tuple[str, ...] = ()
    ignore_values: tuple[str, ...] = ()
    phrase_names: bool = False

    def class_of(self, tags: Mapping[str, str]) -> str | None:
        """The class folder name of a focus object's tags, or ``None`` when it has none."""
        if not all(key in tags for key in self.requires):
            return None
        key = next((key for key in self.keys if key in tags), None)
        if key is None or tags[key] in self.ignore_values:
            return None
        value = tags[key]
        if self.phrase_names:
            value = _phrase(key, value) or value
        return _UNSAFE_CLASS_CHARS.sub("_", value.lower()).strip("_") or None


def _phrase(key: str, value: str) -> str | None:
    if key in feature_tables():
        return feature_phrase(key, value)[0]
    return attribute_phrase(key, value)[0] if key in attribute_tables() else None


@cache
def _tasks() -> dict[str, ClassificationTask]:
    raw = json.loads(
        resources.files("rsvl.builders").joinpath("data/classification_tasks.json").read_text()
    )
    return {
        name: ClassificationTask(name, spec["description"], tuple(spec["keys"]),
                                 tuple(spec.get("requires", ())),
                                 tuple(spec.get("ignore_values", ())),
                                 bool(spec.get("phrase_names", False)))
        for name, spec in raw.items() if not name.startswith("_")
    }


def list_classification_tasks() -> list[str]:
    """Names of the OSM-attribute classification tasks."""
    return sorted(_tasks())


def get_classification_task(name: str) -> ClassificationTask:
    """The classification task called ``name``.

    Raises:
        ConfigError: No task has that name.
    """
    if name not in _tasks():
        raise ConfigError(
            f"unknown classification task {name!r}; choose from {list_classification_tasks()}"
        )
    return _tasks()[name]


@dataclass
class ClassFolders:
    """What one task's folder holds.

    Attributes:
        task: The task name.
        folder: ``OUT/classification/<task>``.
        classes: Images per kept class.
        dropped: Images per class dropped for having fewer than ``min_per_class``.
    """

    task: str
    folder: Path
    classes: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


def _replace_folder(staging: Path, target: Path) -> None:
    """Move a completed staging folder into place (no half-written set is ever visible)."""
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def write_classification_set(root: Path, records: Sequence[Record], task: ClassificationTask,
                             min_per_class: int, splits: Sequence[str]) -> ClassFolders:
    """Copy the chips of ``splits`` into class folders for one task.

    Args:
        root: Dataset root (holds the chips).
        records: The dataset's records.
        task: The classification task.
        min_per_class: Classes with fewer images are dropped (and reported).
        splits: Which splits to draw chips from (``test`` keeps the set apart from training).
    """
    by_class: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        label = task.class_of(record.tags)
        if record.split in splits and label is not None:
            by_class[label].append(record)
    result = ClassFolders(task.name, root / "classification" / task.name)
    staging = result.folder.with_name(f".{task.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for label, members in sorted(by_class.items()):
        if len(members) < min_per_class:
            result.dropped[label] = len(members)
            continue
        result.classes[label] = len(members)
        (staging / label).mkdir()
        # copy2 keeps the chip's modification time: a rebuilt, unchanged set keeps the
        # fingerprint its evaluation results are stored under, so they are reused
        for record in members:
            shutil.copy2(root / record.image, staging / label / Path(record.image).name)
    _replace_folder(staging, result.folder)
    return result


def write_classification_sets(root: Path, records: Sequence[Record], task_names: Sequence[str],
                              min_per_class: int, splits: Sequence[str]
                              ) -> list[ClassFolders]:
    """Write several tasks' class folders and ``classification/summary.json``."""
    sets = [write_classification_set(root, records, get_classification_task(name),
                                     min_per_class, splits) for name in task_names]
    write_json(root / "classification" / "summary.json", {
        "min_per_class": min_per_class,
        "splits": list(splits),
        "tasks": {s.task: {"classes": s.classes, "dropped": s.dropped} for s in sets},
    })
    return sets


def tokens(sentence: str) -> list[str]:
    """Lower-case word tokens of a caption, as the Karpathy files carry them."""
    return _TOKEN.findall(sentence.lower())


def write_retrieval_set(root: Path, records: Sequence[Record], split: str = "test") -> Path:
    """Write the chips of ``split`` and their captions as a Karpathy-style retrieval set.

    Returns:
        The path of ``retrieval/dataset.json`` (images under ``retrieval/images/``).
    """
    folder = root / "retrieval"
    staging = folder.with_name(".retrieval.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "images").mkdir(parents=True)
    images: list[dict[str, Any]] = []
    chosen = [r for r in records if r.split == split]
    sentids = iter(range(sum(len(r.captions) for r in chosen)))
    for imgid, record in enumerate(chosen):
        filename = Path(record.image).name
        shutil.copyfile(root / record.image, staging / "images" / filename)
        images.append({
            "filename": filename,
            "imgid": imgid,
            "split": split,
            "key": record.key,
            "sentences": [
                {"raw": caption, "tokens": tokens(caption), "imgid": imgid,
                 "sentid": next(sentids)}
                for caption in record.captions
            ],
        })
    write_json(staging / "dataset.json", {"dataset": root.name, "images": images})
    _replace_folder(staging, folder)
    return folder / "dataset.json"
