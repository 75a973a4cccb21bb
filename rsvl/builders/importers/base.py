"""The shared half of every importer: validate source items, store images, write the dataset.

A format reader (Karpathy JSON, CSV/TSV, class folders, Hugging Face datasets) only turns its
source into :class:`SourceItem` objects; everything else (split names, keys, missing images,
empty captions, image storage, records, shards, Parquet, manifest) happens here once, so every
imported dataset has the layout of an OSM-built one::

    OUT/records.jsonl  OUT/images/{key}.jpg|png  OUT/shards/{train,val,test}/  OUT/parquet/
    OUT/manifest.json   (with open_clip's --train-data pattern for OUT/shards/train)
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import UnidentifiedImageError

from rsvl.data.atomic import atomic_open, remove_stale_temporaries
from rsvl.data.images import open_image
from rsvl.data.records import RECORDS_FILE, SPLITS, Record, write_records
from rsvl.data.shards import SHARDS_DIR
from rsvl.errors import ConfigError, InputError

IMAGES_DIR = "images"
# Split names seen in published caption datasets, mapped onto rsvl's three splits.
# ``restval`` is the Karpathy COCO split of validation images used for training.
SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "restval": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
# Formats the WebDataset and open_clip loaders decode as they are; others are re-encoded.
_KEPT_FORMATS = {"JPEG": "jpg", "PNG": "png"}
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")

ImageSource = Path | Callable[[], bytes]


@dataclass
class SourceItem:
    """One image of a source dataset with its captions, before validation.

    Attributes:
        key: Proposed record key (made safe by :func:`key_from_path` or the reader).
        captions: Captions as the source gives them (validated here).
        split: The source's split name (``valid``, ``dev``... are normalised here).
        origin: Where the item comes from, for error messages (``caps.json: images[3]``).
        image: The image file, or a callable returning its encoded bytes.
        extra: Source-specific fields kept in the record's ``extra``.
    """

    key: str
    captions: list[str]
    split: str
    origin: str
    image: ImageSource
    extra: dict[str, Any] = field(default_factory=dict)


def normalise_split(split: str, origin: str) -> str:
    """Map a source split name (``valid``, ``dev``, ``Test``...) to ``train``/``val``/``test``."""
    name = str(split).strip().lower()
    if name not in SPLIT_ALIASES:
        raise InputError(
            f"{origin}: unknown split {split!r}; expected one of {sorted(SPLIT_ALIASES)} "
            f"(mapped onto {'/'.join(SPLITS)})"
        )
    return SPLIT_ALIASES[name]


def key_from_path(path: str) -> str:
    """A record key from a relative image path: suffix dropped, unsafe characters as ``_``."""
    named = Path(path)
    stem = str(named.with_suffix("") if named.name else named).replace("\\", "/")  # '' or '.'
    return _KEY_UNSAFE.sub("_", stem).strip("_") or "image"


def validate_items(items: Iterable[SourceItem]) -> list[tuple[SourceItem, str]]:
    """Check every item before any output is written; return ``(item, split)`` pairs.

    Raises:
        InputError: One line naming the first bad item: an unknown split, an empty caption,
            a duplicated key or a missing image.
    """
    checked: list[tuple[SourceItem, str]] = []
    origins: dict[str, str] = {}
    for item in items:
        split = normalise_split(item.split, item.origin)
        item.captions = [str(c).strip() for c in item.captions]
        if not item.captions or not all(item.captions):
            raise InputError(f"{item.origin}: empty caption; give every image non-empty captions")
        if item.key in origins:
            raise InputError(
                f"{item.origin}: duplicated key {item.key!r} (also {origins[item.key]}); "
                "each image must appear once"
            )
        origins[item.key] = item.origin
        if isinstance(item.image, Path) and not item.image.is_file():
            raise InputError(f"{item.origin}: image not found: {item.image}")
        checked.append((item, split))
    if not checked:
        raise InputError("the source holds no images; check the path and the format options")
    return checked


def store_image(item: SourceItem, images_dir: Path, existing: Mapping[str, str]) -> str:
    """Copy (JPEG/PNG) or re-encode (anything else, as PNG) the item's image; returns its name.

    An image already stored by an interrupted run (``existing``: key -> file name) is reused.
    """
    if item.key in existing:
        return existing[item.key]
    data = item.image.read_bytes() if isinstance(item.image, Path) else item.image()
    try:
        with open_image(io.BytesIO(data), item.origin) as image:
            image.load()
            ext = _KEPT_FORMATS.get(str(image.format))
            if ext is None:
                buffer = io.BytesIO()
                image.convert("RGB").save(buffer, format="PNG")
                data, ext = buffer.getvalue(), "png"
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise InputError(f"{item.origin}: cannot decode the image ({error})") from None
    name = f"{item.key}.{ext}"
    with atomic_open(images_dir / name, "wb") as handle:
        handle.write(data)
    return name


def import_items(items: Iterable[SourceItem], out: str | Path, *, source: str, licence: str,
                 shard_size: int = 1000, command: list[str] | None = None,
                 config: Mapping[str, Any] | None = None,
                 inputs: Mapping[str, str | Path | None] | None = None) -> list[Record]:
    """Validate items, store their images and write records, shards, Parquet and manifest.

    Args:
        items: The source's items, from a format reader.
        out: Output dataset root.
        source: Dataset name kept in every record (``rsicd``).
        licence: Licence of the source images and captions, kept in every record.
        shard_size: Samples per WebDataset shard.
        command: Command line recorded in the manifest.
        config: Import options recorded in the manifest.
        inputs: Input files (role -> path) whose checksums go in the manifest.

    Returns:
        The records written, in key order.
    """
    from rsvl.builders.export import open_clip_recipe, write_parquet, write_shards
    from rsvl.builders.manifest import describe_inputs, write_manifest

    if not source.strip() or not licence.strip():
        raise ConfigError("give the dataset a name (--name) and its licence (--licence)")
    root = Path(out)
    images_dir = root / IMAGES_DIR
    checked = validate_items(items)
    remove_stale_temporaries(root)  # half-written files of a killed import
    images_dir.mkdir(parents=True, exist_ok=True)
    existing = {p.stem: p.name for p in images_dir.iterdir() if not p.name.startswith(".")}
    records = []
    for item, split in sorted(checked, key=lambda pair: pair[0].key):
        name = store_image(item, images_dir, existing)
        records.append(Record(
            key=item.key, image=f"{IMAGES_DIR}/{name}", captions=item.captions, split=split,
            source=source, licence=licence,
            extra={"source_split": item.split, **item.extra},
        ))
    write_records(root / RECORDS_FILE, records)
    shards = write_shards(root, records, shard_size)
    per_split = write_parquet(root, records)
    write_manifest(
        root, command=list(command or []), config=dict(config or {}),
        inputs=describe_inputs(dict(inputs or {})),
        counts={"images": len(records), **per_split}, rejected={}, imagery_licence=licence,
        extra={"shards": shards, "source": source,
               "open_clip": open_clip_recipe(root / SHARDS_DIR, shards, per_split)},
        osm_attribution=None,
    )
    return records
