"""Class-folder datasets (UC Merced, AID, RESISC45, WHU-RS19, EuroSAT): captions from templates.

``root/{class}/*.jpg``, or ``root/{split}/{class}/*.jpg`` when every top folder is a split
name. Class folder names become display names (``SeaLake`` -> ``sea lake``,
``railway_station`` -> ``railway station``); run-together names
(``railwaystation``) are fixed by the shared rule in :mod:`rsvl.data.class_names`, or with
``class_names`` (folder -> display name). A symlinked image that resolves outside ``root`` is
refused unless ``allow_outside_images_dir`` (:mod:`rsvl.builders.importers.paths`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from rsvl.builders.importers.base import SPLIT_ALIASES, SourceItem, key_from_path
from rsvl.builders.importers.paths import image_inside
from rsvl.data.class_names import display_name
from rsvl.errors import ConfigError, InputError

OPTIONS = ("templates", "split", "class_names", "allow_outside_images_dir")
DEFAULT_TEMPLATES = ("a satellite image of {class}",)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")


def caption(template: str, class_name: str) -> str:
    """Fill a template's ``{class}`` (or ``{c}``) placeholder with the class name."""
    try:
        return template.format_map({"class": class_name, "c": class_name})
    except (KeyError, IndexError, ValueError) as error:
        raise ConfigError(
            f"caption template {template!r} is invalid ({error}); use the {{class}} placeholder"
        ) from None


def read_items(source: str | Path, templates: Sequence[str] = DEFAULT_TEMPLATES,
               split: str = "train",
               class_names: Mapping[str, str] | None = None,
               allow_outside_images_dir: bool = False) -> Iterator[SourceItem]:
    """Items of a class-folder dataset, one caption per template.

    Args:
        source: The dataset root.
        templates: Caption templates with a ``{class}`` placeholder.
        split: The split of every image, unless the top folders are split names.
        class_names: Display-name overrides, folder name -> class name.
        allow_outside_images_dir: Accept symlinked images that resolve outside ``source``.
    """
    root = Path(source)
    if not root.is_dir():
        raise InputError(f"class-folder dataset not found: {root}")
    if not templates:
        raise ConfigError("give at least one caption template (--template)")
    overrides = dict(class_names or {})
    top = _subfolders(root)
    if top and all(p.name.lower() in SPLIT_ALIASES for p in top):
        layout = [(p.name, p) for p in top]
    else:
        layout = [(split, root)]
    for split_name, split_dir in layout:
        classes = _subfolders(split_dir)
        if not classes:
            raise InputError(f"{split_dir}: no class folders; expected {split_dir}/<class>/*.jpg")
        for class_dir in classes:
            name = display_name(class_dir.name, overrides)
            for image in sorted(class_dir.iterdir()):
                if image.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                relative = image.relative_to(root).as_posix()
                yield SourceItem(
                    key=key_from_path(relative),
                    captions=[caption(t, name) for t in templates],
                    split=split_name, origin=f"{root}: {relative}",
                    image=image_inside(root, relative, f"{root}", allow_outside_images_dir),
                    extra={"source_image": relative, "class_name": name,
                           "class_folder": class_dir.name},
                )


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
