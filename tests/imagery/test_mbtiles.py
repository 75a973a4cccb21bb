"""MBTiles: raster PNG tiles built with sqlite3 (TMS rows), vector tiles refused."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.errors import InputError
from rsvl.imagery import open_imagery
from rsvl.imagery.base import UNREADABLE_TILE, UnreadableImagery
from rsvl.imagery.mbtiles import MBTilesImagery
from rsvl.imagery.tiles import flip_y, tile_bounds

ZOOM, X0, Y0 = 17, 62092, 50162


def _png(colour: tuple[int, int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (256, 256), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _write_mbtiles(path: Path, tiles: dict[tuple[int, int], bytes], fmt: str = "png") -> Path:
    """An MBTiles file with ``tiles`` keyed by XYZ (x, y) at ZOOM, stored in TMS rows."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                   "tile_row INTEGER, tile_data BLOB)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "t"), ("format", fmt)])
        db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                       [(ZOOM, x, flip_y(ZOOM, y), data) for (x, y), data in tiles.items()])
    return path


def test_raster_mbtiles_rows_are_flipped(tmp_path: Path) -> None:
    # North tile red, the tile south of it blue, a transparent one to the east.
    path = _write_mbtiles(tmp_path / "t.mbtiles", {
        (X0, Y0): _png((255, 0, 0, 255)), (X0, Y0 + 1): _png((0, 0, 255, 255)),
        (X0 + 1, Y0): _png((0, 0, 0, 0))})
    with open_imagery(path) as imagery:
        assert isinstance(imagery, MBTilesImagery) and imagery.zooms == [ZOOM]
        north = tile_bounds(ZOOM, X0, Y0)
        assert imagery.bounds == pytest.approx(
            (north[0], tile_bounds(ZOOM, X0, Y0 + 1)[1], tile_bounds(ZOOM, X0 + 1, Y0)[2],
             north[3]))
        assert (imagery.read(north, 8).rgb == (255, 0, 0)).all()
        south = imagery.read(tile_bounds(ZOOM, X0, Y0 + 1), 8)
        assert (south.rgb == (0, 0, 255)).all() and south.valid.all()
        assert imagery.read(tile_bounds(ZOOM, X0 + 1, Y0), 8).valid_fraction == 0.0
        # The fourth tile of the 2x2 extent is absent: invalid, not an error.
        assert imagery.read(tile_bounds(ZOOM, X0 + 1, Y0 + 1), 8).valid_fraction == 0.0


def test_mbtiles_matches_the_tile_folder(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "sintra" / "tiles" / "17"
    tiles = {(int(t.parent.name), int(t.stem)): t.read_bytes() for t in folder.glob("*/*.jpg")}
    mbtiles = open_imagery(_write_mbtiles(tmp_path / "sintra.mbtiles", tiles, fmt="jpg"))
    tile_folder = open_imagery(folder)
    assert mbtiles.bounds == pytest.approx(tile_folder.bounds)
    bounds = mbtiles.bounds
    np.testing.assert_array_equal(mbtiles.read(bounds, 96).rgb, tile_folder.read(bounds, 96).rgb)


def test_vector_mbtiles_is_refused(shared_data: Path) -> None:
    with pytest.raises(InputError, match=r"holds vector tiles \(pbf\), not imagery"):
        open_imagery(shared_data / "sintra" / "osm-qa-z17.mbtiles")


def test_broken_mbtiles_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mbtiles"
    junk.write_bytes(b"this is not sqlite" * 10)
    with pytest.raises(InputError, match="not a readable MBTiles file"):
        open_imagery(junk)
    with pytest.raises(InputError, match="holds no tiles"):
        open_imagery(_write_mbtiles(tmp_path / "empty.mbtiles", {}))


def test_corrupt_tile_in_mbtiles_is_unreadable(tmp_path: Path) -> None:
    path = _write_mbtiles(tmp_path / "t.mbtiles", {(X0, Y0): _png((255, 0, 0, 255)),
                                                   (X0 + 1, Y0): b"\x89PNG broken"})
    with open_imagery(path) as imagery:
        assert (imagery.read(tile_bounds(ZOOM, X0, Y0), 8).rgb == (255, 0, 0)).all()
        with pytest.raises(UnreadableImagery, match=rf"t\.mbtiles: tile z/x/y={ZOOM}/{X0 + 1}/"
                           rf"{Y0} is not a readable image") as caught:
            imagery.read(tile_bounds(ZOOM, X0 + 1, Y0), 8)
    assert caught.value.reason == UNREADABLE_TILE
