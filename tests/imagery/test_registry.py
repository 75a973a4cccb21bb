"""Dispatch from a source to its reader, from readers.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvl.errors import ConfigError
from rsvl.imagery import get_reader, list_readers, open_imagery, reader_for
from rsvl.imagery.raster import RasterImagery
from rsvl.imagery.tile_folder import TileFolderImagery


def test_readers_and_dispatch(tmp_path: Path) -> None:
    assert list_readers() == ["mbtiles", "raster", "tile_folder", "tile_server"]
    assert get_reader("raster") is RasterImagery
    assert get_reader("tile_folder") is TileFolderImagery
    assert reader_for(tmp_path) == "tile_folder"
    assert reader_for("ortho.TIF") == "raster" and reader_for("mosaic.vrt") == "raster"
    assert reader_for("z17.mbtiles") == "mbtiles"
    assert reader_for("/vsicurl/https://example.org/cog") == "raster"
    assert reader_for("https://example.org/cog.tif") == "raster"
    for template in ("https://t.example.org/{z}/{x}/{y}.png", "http://h/tms/{z}/{x}/{-y}.jpg",
                     "https://h/{z}/{x}/{y}?key=abc"):
        assert reader_for(template) == "tile_server"
    assert reader_for("tiles/{z}/{x}/{y}.png") == "raster"  # a local file name, not a URL


def test_unknown_reader_and_option_are_config_errors(shared_data: Path) -> None:
    with pytest.raises(ConfigError, match="unknown imagery reader 'wms'"):
        open_imagery("x.tif", reader="wms")
    with pytest.raises(ConfigError, match="bad option for the RasterImagery reader"):
        open_imagery(shared_data / "imagery" / "cogeo.tif", scheme="xyz")
