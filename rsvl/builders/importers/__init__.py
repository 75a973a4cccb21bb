"""Import existing caption datasets into rsvl records and shards.

One module per source format, each exposing ``read_items(source, **options)`` and the names
of its ``OPTIONS``; :func:`import_dataset` validates the items and writes the same layout the
OSM builder writes (records, images, WebDataset shards, Parquet copy, manifest).

Example:
    >>> import_dataset("karpathy", "rsicd/dataset_rsicd.json", "imported/rsicd",
    ...                name="rsicd", licence="RSICD research use", images_dir="rsicd/RSICDimages")
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from rsvl.builders.importers.base import SPLIT_ALIASES, SourceItem, import_items
from rsvl.data.records import Record
from rsvl.errors import ConfigError

FORMATS: dict[str, str] = {
    "karpathy": "rsvl.builders.importers.karpathy",
    "csv": "rsvl.builders.importers.table",
    "folder": "rsvl.builders.importers.folder",
    "hf": "rsvl.builders.importers.hf",
}


def list_formats() -> list[str]:
    """Names of the source formats :func:`import_dataset` reads."""
    return sorted(FORMATS)


def get_format(name: str) -> ModuleType:
    """The reader module of a format (``read_items`` and ``OPTIONS``)."""
    if name not in FORMATS:
        raise ConfigError(f"unknown import format {name!r}; choose one of {list_formats()}")
    return importlib.import_module(FORMATS[name])


def import_dataset(fmt: str, source: str | Path, out: str | Path, *, name: str, licence: str,
                   shard_size: int = 1000, command: list[str] | None = None,
                   **options: Any) -> list[Record]:
    """Convert a dataset in format ``fmt`` into an rsvl dataset at ``out``.

    Args:
        fmt: One of :func:`list_formats`.
        source: Caption file, table, class-folder root or Hugging Face dataset id/builder.
        out: Output dataset root.
        name: Dataset name kept as every record's ``source``.
        licence: Licence of the images and captions, kept in every record.
        shard_size: Samples per WebDataset shard.
        command: The command line recorded in the manifest.
        **options: The format's options (see each module's ``OPTIONS``).

    Returns:
        The records written.
    """
    reader = get_format(fmt)
    unknown = sorted(set(options) - set(reader.OPTIONS))
    if unknown:
        raise ConfigError(
            f"format {fmt!r} takes no option {unknown[0]!r}; it takes {reader.OPTIONS}"
        )
    items = reader.read_items(str(source) if fmt == "hf" else Path(source), **options)
    local = Path(str(source))
    return import_items(
        items, out, source=name, licence=licence, shard_size=shard_size, command=command,
        config={"format": fmt, "source": str(source), "name": name, "licence": licence,
                "shard_size": shard_size, **{k: _plain(v) for k, v in options.items()}},
        inputs={"source": local if local.exists() else None},
    )


def _plain(value: Any) -> Any:
    """An option value as JSON (paths as strings, tuples as lists)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


__all__ = ["FORMATS", "SPLIT_ALIASES", "SourceItem", "get_format", "import_dataset",
           "list_formats"]
