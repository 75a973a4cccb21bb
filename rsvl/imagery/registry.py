"""Which reader opens which source: a registry filled from ``readers.json``.

A folder goes to the reader marked ``"folder": true`` (tile pyramids); a file goes by its
suffix; anything else (other GDAL formats, ``/vsicurl/`` and other GDAL paths) goes to the
``fallback`` reader, rasterio, which opens whatever GDAL can.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from rsvl.errors import ConfigError
from rsvl.imagery.base import Imagery

_SPEC = json.loads((Path(__file__).parent / "readers.json").read_text())
# Reader name -> "module:Class"; imported on first use so sqlite/PIL-only users skip GDAL.
READERS: dict[str, str] = {name: spec["class"] for name, spec in _SPEC["readers"].items()}
SUFFIXES: dict[str, str] = {suffix: name for name, spec in _SPEC["readers"].items()
                            for suffix in spec["suffixes"]}
FOLDER_READER: str = next(name for name, spec in _SPEC["readers"].items() if spec["folder"])
FALLBACK_READER: str = _SPEC["fallback"]


def list_readers() -> list[str]:
    """Names of the registered imagery readers."""
    return sorted(READERS)


def get_reader(name: str) -> type[Imagery]:
    """The reader class registered as ``name``.

    Raises:
        ConfigError: No reader has that name.
    """
    if name not in READERS:
        raise ConfigError(f"unknown imagery reader {name!r}; choose one of {list_readers()}")
    module, _, attr = READERS[name].partition(":")
    reader: type[Imagery] = getattr(importlib.import_module(module), attr)
    return reader


def reader_for(source: str | Path) -> str:
    """Name of the reader that opens ``source`` (by folder shape, then suffix)."""
    if Path(source).is_dir():
        return FOLDER_READER
    return SUFFIXES.get(Path(str(source)).suffix.lower(), FALLBACK_READER)


def open_imagery(source: str | Path, reader: str | None = None, **options: Any) -> Imagery:
    """Open a raster file, a tile folder or an MBTiles file as :class:`Imagery`.

    Args:
        source: Path or GDAL dataset name (``/vsicurl/https://...``).
        reader: Force a reader by name (see :func:`list_readers`); default by source shape.
        **options: Reader options: ``licence`` for all; ``scheme`` for tile folders;
            ``stretch`` and ``percentiles`` for rasters.

    Returns:
        The opened imagery (use it as a context manager to close it).

    Raises:
        InputError: The source is missing, unreadable, lacks a CRS or is not imagery.
        ConfigError: Unknown reader name.
    """
    cls = get_reader(reader or reader_for(source))
    try:
        return cls(source, **options)
    except TypeError as exc:
        raise ConfigError(f"bad option for the {cls.__name__} reader of {source}: {exc}") from None
