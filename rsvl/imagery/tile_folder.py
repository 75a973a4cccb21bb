"""XYZ / TMS tile pyramids on disk: ``{z}/{x}/{y}.png|jpg|jpeg|webp``.

``scheme="auto"`` only decides when the folder says so: a ``tilemapresource.xml`` (written by
gdal2tiles for TMS output) means ``tms``; a ``metadata.json`` with a ``scheme`` key means that
scheme. Otherwise the rows cannot be told apart from the files alone (a pyramid's quadtree looks
the same in both orders), so ``auto`` falls back to ``xyz``, the slippy-map order of tile caches
and web maps; pass ``scheme="tms"`` for TMS folders without metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rsvl.errors import InputError
from rsvl.imagery.base import UNREADABLE_TILE, UnreadableImagery
from rsvl.imagery.tiles import TilePyramid, check_scheme, flip_y

TILE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
# Tiles tried (one per column) to learn the tile size and bands when the first is corrupt.
_SAMPLE_TRIES = 8


def _numeric_dirs(folder: Path) -> list[tuple[int, Path]]:
    return sorted((int(entry.name), Path(entry.path)) for entry in os.scandir(folder)
                  if entry.is_dir() and entry.name.isdigit())


def _tiles_in_column(column: Path) -> list[tuple[int, str]]:
    """``(row, extension)`` of the tile files in an ``{x}`` folder."""
    tiles = []
    for entry in os.scandir(column):
        stem, ext = os.path.splitext(entry.name)
        if stem.isdigit() and ext.lower() in TILE_EXTENSIONS and entry.is_file():
            tiles.append((int(stem), ext))
    return tiles


def _has_files(folder: Path) -> bool:
    return any(path.is_file() for path in folder.rglob("*"))


class TileFolderImagery(TilePyramid):
    """A folder of ``{z}/{x}/{y}.{ext}`` tiles (or one zoom's ``{x}/{y}.{ext}`` folder).

    Args:
        source: The pyramid's root folder, or a single zoom folder such as ``tiles/17``.
        scheme: ``xyz``, ``tms`` or ``auto`` (see the module docstring).
        licence: Licence of the imagery.
    """

    def __init__(self, source: str | Path, scheme: str = "auto",
                 licence: str = "unknown") -> None:
        super().__init__(source, licence)
        check_scheme(scheme, self.source)
        folder = Path(source)
        if not folder.is_dir():
            raise InputError(f"{source}: tile folder does not exist")
        levels = _numeric_dirs(folder)
        if levels and not any(_tiles_in_column(column) for column in (p for _, p in levels)):
            self.root = folder
        elif levels and folder.name.isdigit():
            # A single zoom folder ({x}/{y}.ext directly under it): its name is the zoom.
            self.root, levels = folder.parent, [(int(folder.name), folder)]
        else:
            self.root = folder
        self.scheme = self._detect_scheme(scheme)
        # Extension per zoom (the first one found); rows are kept in XYZ order. Only the
        # finest zoom is listed in full (it gives the bounds): pyramids can hold millions of tiles.
        self._extensions: dict[int, str] = {}
        extent: tuple[tuple[int, int], tuple[int, int]] | None = None
        for zoom, level in reversed(levels):
            columns = ((x, _tiles_in_column(path)) for x, path in _numeric_dirs(level))
            if extent is not None:
                first = next((tiles[0][1] for _, tiles in columns if tiles), None)
                if first is not None:
                    self._extensions[zoom] = first
                continue
            found = [(x, tiles) for x, tiles in columns if tiles]
            if found:
                self._extensions[zoom] = found[0][1][0][1]
                rows = [self._xyz_row(zoom, y) for _, tiles in found for y, _ in tiles]
                extent = ((found[0][0], found[-1][0]), (min(rows), max(rows)))
                samples = [(zoom, x, self._xyz_row(zoom, y))
                           for x, tiles in found[:_SAMPLE_TRIES] for y, _ in tiles[:1]]
        if extent is None:
            if _has_files(folder):
                raise InputError(f"{source}: unknown tile scheme: expected a pyramid of "
                                 "{z}/{x}/{y}.png|jpg|jpeg|webp tiles (numbered folders)")
            raise InputError(f"{source}: empty tile folder (no {{z}}/{{x}}/{{y}} tiles); "
                             "check the path or re-export the tiles")
        self.zooms = sorted(self._extensions)
        # One corrupt tile must not make the whole pyramid unreadable: try a few samples.
        for tried, sample in enumerate(samples, start=1):
            try:
                self._describe(*extent, sample)
                break
            except UnreadableImagery:
                if tried == len(samples):
                    raise

    def _detect_scheme(self, scheme: str) -> str:
        if scheme != "auto":
            return scheme
        if (self.root / "tilemapresource.xml").is_file():
            return "tms"
        metadata = self.root / "metadata.json"
        if metadata.is_file():
            try:
                declared = json.loads(metadata.read_text()).get("scheme")
            except (ValueError, AttributeError):
                declared = None
            if declared in ("xyz", "tms"):
                return str(declared)
        return "xyz"

    def _xyz_row(self, zoom: int, row: int) -> int:
        return flip_y(zoom, row) if self.scheme == "tms" else row

    def _tile_bytes(self, zoom: int, x: int, y: int) -> bytes | None:
        ext = self._extensions.get(zoom)
        if ext is None:
            return None
        path = self.root / str(zoom) / str(x) / f"{self._xyz_row(zoom, y)}{ext}"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:  # unreadable (permissions, I/O error, a folder of that name)
            raise UnreadableImagery(f"{path}: cannot read tile z/x/y={zoom}/{x}/{y} ({exc})",
                                    UNREADABLE_TILE) from None
