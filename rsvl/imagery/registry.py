"""Which reader opens which source: a registry filled from ``readers.json``.

A tile URL template (``https://host/{z}/{x}/{y}.png``) goes to the reader marked
``"url_template": true`` (tile servers); a folder goes to the reader marked ``"folder": true``
(tile pyramids); a file goes by its suffix; anything else (other GDAL formats, ``/vsicurl/``
and other GDAL paths) goes to the ``fallback`` reader, rasterio, which opens whatever GDAL can.
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
TEMPLATE_READER: str = next(name for name, spec in _SPEC["readers"].items()
                            if spec.get("url_template"))
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


def is_tile_url(source: str | Path) -> bool:
    """Whether ``source`` is a tile URL template (``https://host/{z}/{x}/{y}.png``)."""
    text = str(source)
    return ("://" in text and "{z}" in text and "{x}" in text
            and ("{y}" in text or "{-y}" in text))


def reader_for(source: str | Path) -> str:
    """Name of the reader that opens ``source`` (URL template, folder shape, then suffix)."""
    if is_tile_url(source):
        return TEMPLATE_READER
    if Path(source).is_dir():
        return FOLDER_READER
    return SUFFIXES.get(Path(str(source)).suffix.lower(), FALLBACK_READER)


def open_imagery(source: str | Path, reader: str | None = None, **options: Any) -> Imagery:
    """Open a raster, a tile folder, an MBTiles file or a tile server as :class:`Imagery`.

    Args:
        source: Path, GDAL dataset name (``/vsicurl/https://...``, ``/vsis3/bucket/key``) or
            tile URL template (``https://host/{z}/{x}/{y}.png``).
        reader: Force a reader by name (see :func:`list_readers`); default by source shape.
        **options: Reader options: ``licence`` for all; ``scheme`` for tile folders and
            servers; ``stretch``, ``percentiles`` and ``retries`` for rasters; ``max_zoom``,
            ``min_zoom``, ``bounds``, ``missing``, ``cache``, ``retries``... for tile servers
            (see :class:`rsvl.imagery.tile_server.TileServerImagery`).

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
