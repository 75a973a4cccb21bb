"""MBTiles (sqlite) raster tile stores; rows are stored in TMS order and flipped to XYZ."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from rsvl.errors import InputError
from rsvl.imagery.base import UNREADABLE_TILE, UnreadableImagery
from rsvl.imagery.tiles import TilePyramid, flip_y

# Tile formats that are vector data, by MBTiles ``format`` metadata or by their first bytes.
_VECTOR_FORMATS = ("pbf", "mvt")
_GZIP_MAGIC = b"\x1f\x8b"


class MBTilesImagery(TilePyramid):
    """An ``.mbtiles`` file of PNG/JPEG/WebP raster tiles.

    Args:
        source: Path of the ``.mbtiles`` file.
        licence: Licence of the imagery.
    """

    scheme = "tms"

    def __init__(self, source: str | Path, licence: str = "unknown") -> None:
        super().__init__(source, licence)
        if not Path(source).is_file():
            raise InputError(f"{source}: MBTiles file does not exist")
        try:
            zooms = [row[0] for row in self._query(
                "SELECT DISTINCT zoom_level FROM tiles ORDER BY zoom_level")]
            formats = self._query("SELECT value FROM metadata WHERE name = 'format'")
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{source}: not a readable MBTiles file ({exc}); expected an "
                             "sqlite database with 'tiles' and 'metadata' tables") from None
        if not zooms:
            raise InputError(f"{source}: MBTiles file holds no tiles")
        self.zooms = zooms
        zoom = zooms[-1]
        x0, x1, row0, row1 = self._query(
            "SELECT min(tile_column), max(tile_column), min(tile_row), max(tile_row) "
            "FROM tiles WHERE zoom_level = ?", zoom)[0]
        x, row, data = self._query("SELECT tile_column, tile_row, tile_data FROM tiles "
                                   "WHERE zoom_level = ? LIMIT 1", zoom)[0]
        declared = str(formats[0][0]).lower() if formats else ""
        if declared in _VECTOR_FORMATS or bytes(data[:2]) == _GZIP_MAGIC:
            self.close()
            raise InputError(f"{source} holds vector tiles (pbf), not imagery; give a raster "
                             "MBTiles (png/jpg/webp tiles) or a GeoTIFF")
        self._describe((x0, x1), (flip_y(zoom, row1), flip_y(zoom, row0)),
                       (zoom, x, flip_y(zoom, row)))

    def _query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        handle = self._own_handle()
        if handle is None:
            # Read-only: several worker processes may read one file at once.
            uri = Path(self.source).resolve().as_uri() + "?mode=ro"
            handle = self._keep_handle(sqlite3.connect(uri, uri=True, check_same_thread=False))
        return handle.execute(sql, params).fetchall()

    def _tile_bytes(self, zoom: int, x: int, y: int) -> bytes | None:
        try:
            rows = self._query("SELECT tile_data FROM tiles WHERE zoom_level = ? AND "
                               "tile_column = ? AND tile_row = ?", zoom, x, flip_y(zoom, y))
        except sqlite3.DatabaseError as exc:  # a corrupt page of the database
            raise UnreadableImagery(f"{self.source}: cannot read tile z/x/y={zoom}/{x}/{y} "
                                    f"({exc})", UNREADABLE_TILE) from None
        return bytes(rows[0][0]) if rows else None
