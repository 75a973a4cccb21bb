"""Karpathy-style caption JSON (RSICD, RSITMD, UCM-Captions, Sydney-Captions, COCO).

``{"images": [{"filename", "filepath"?, "imgid"?, "split", "sentences": [{"raw", ...}]}]}``;
images live in ``images_dir/filepath/filename`` (``filepath`` is optional), and must stay
inside ``images_dir`` (:mod:`rsvl.builders.importers.paths`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rsvl.builders.importers.base import SourceItem, key_from_path
from rsvl.builders.importers.paths import image_inside
from rsvl.data.atomic import read_json
from rsvl.errors import InputError

OPTIONS = ("images_dir", "allow_outside_images_dir")


def read_items(source: str | Path, images_dir: str | Path | None = None,
               allow_outside_images_dir: bool = False) -> Iterator[SourceItem]:
    """Items of a Karpathy-style caption file.

    Args:
        source: The caption JSON file.
        images_dir: Folder holding the images (default: the JSON file's folder).
        allow_outside_images_dir: Accept image paths that leave ``images_dir`` (absolute,
            ``..``, symlinks out); refused by default.

    Raises:
        InputError: An entry is malformed or its image path leaves ``images_dir``.
    """
    path = Path(source)
    base = Path(images_dir) if images_dir is not None else path.parent
    entries = _load_images(path)
    for index, entry in enumerate(entries):
        origin = f"{path}: images[{index}]"
        if not isinstance(entry, dict) or "filename" not in entry:
            raise InputError(f"{origin}: an image entry needs a 'filename'")
        relative = str(Path(str(entry.get("filepath", ""))) / str(entry["filename"]))
        sentences = entry.get("sentences")
        if not isinstance(sentences, list):
            raise InputError(f"{origin} ({relative}): 'sentences' must be a list of {{'raw': ...}}")
        extra: dict[str, Any] = {"source_image": relative}
        if "imgid" in entry:
            extra["imgid"] = entry["imgid"]
        yield SourceItem(
            key=key_from_path(relative),
            captions=[str(s.get("raw", "")) if isinstance(s, dict) else "" for s in sentences],
            split=str(entry.get("split", "")),
            origin=f"{origin} ({relative})",
            image=image_inside(base, relative, origin, allow_outside_images_dir),
            extra=extra,
        )


def _load_images(path: Path) -> list[Any]:
    payload = read_json(path, "caption file")
    images = payload.get("images") if isinstance(payload, dict) else None
    if not isinstance(images, list):
        raise InputError(f"{path}: expected a Karpathy-style object with an 'images' list")
    return images
