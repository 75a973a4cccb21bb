"""Tile folders on real tiles (Sintra XYZ with a missing tile, Kampala RGBA) and bad folders."""

from __future__ import annotations

import math
import pickle
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from rsvl.errors import InputError
from rsvl.imagery import footprint_to_crs, open_imagery
from rsvl.imagery.base import UNREADABLE_TILE, UnreadableImagery
from rsvl.imagery.tile_folder import TileFolderImagery
from rsvl.imagery.tiles import flip_y, tile_bounds


def test_sintra_bounds_gsd_and_missing_tile(shared_data: Path) -> None:
    for source in (shared_data / "sintra" / "tiles", shared_data / "sintra" / "tiles" / "17"):
        imagery = open_imagery(source, licence="Mapbox Satellite terms")
        assert isinstance(imagery, TileFolderImagery)
        assert imagery.zooms == [17] and imagery.scheme == "xyz" and imagery.crs == "EPSG:3857"
        west, north = tile_bounds(17, 62092, 50162)[0], tile_bounds(17, 62092, 50162)[3]
        east, south = tile_bounds(17, 62094, 50164)[2], tile_bounds(17, 62094, 50164)[1]
        assert imagery.bounds == pytest.approx((west, south, east, north))
        assert imagery.gsd_m == pytest.approx(1.1943 * math.cos(math.radians(38.849)), rel=1e-3)
    missing = imagery.read(tile_bounds(17, 62092, 50162), 64)
    assert missing.valid_fraction == 0.0 and not missing.rgb.any()
    # A chip over the missing tile and its eastern neighbour: left half invalid, right valid.
    left, bottom, _, top = tile_bounds(17, 62092, 50162)
    right = tile_bounds(17, 62093, 50162)[2]
    both = imagery.read((left, bottom, right, top), (128, 64), resampling="nearest")
    assert not both.valid[:, :64].any() and both.valid[:, 64:].all()


def _fraction_on_imagery(imagery: TileFolderImagery, footprints: gpd.GeoSeries) -> float:
    """Fraction of building centroids on non-transparent pixels (2 m chips at the centroid)."""
    hits = 0
    for footprint in footprints:
        centre = footprint_to_crs(footprint, "EPSG:4326", imagery.crs).centroid
        box = (centre.x - 1, centre.y - 1, centre.x + 1, centre.y + 1)
        try:
            hits += imagery.read(box, 4).valid_fraction > 0.5
        except InputError:  # outside the imagery's bounds altogether
            continue
    return hits / len(footprints)


def test_kampala_scheme_is_xyz(shared_data: Path) -> None:
    """The README only believes Kampala is XYZ; OSM building footprints settle it."""
    buildings = gpd.read_file(shared_data / "kampala" / "osm_buildings.geojson").geometry
    xyz = open_imagery(shared_data / "kampala" / "tiles", scheme="xyz")
    tms = open_imagery(shared_data / "kampala" / "tiles", scheme="tms")
    assert _fraction_on_imagery(xyz, buildings) > 0.8
    # Read as TMS the same tiles land at 0.35 S, where no footprint is.
    assert _fraction_on_imagery(tms, buildings) == 0.0
    assert open_imagery(shared_data / "kampala" / "tiles").scheme == "xyz"


def test_kampala_alpha_is_the_valid_mask(shared_data: Path) -> None:
    imagery = open_imagery(shared_data / "kampala" / "tiles")
    assert imagery.band_count == 4
    chip = imagery.read(imagery.bounds, 128)
    # Two separate flights: transparent gaps between them, opaque pixels inside.
    assert 0.05 < chip.valid_fraction < 0.5
    assert not chip.rgb[~chip.valid].any() and chip.rgb[chip.valid].any()


def test_tms_folder_is_detected_and_flipped(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "sintra" / "tiles" / "17"
    for tile in source.glob("*/*.jpg"):
        target = tmp_path / "17" / tile.parent.name / f"{flip_y(17, int(tile.stem))}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tile, target)
    (tmp_path / "tilemapresource.xml").write_text("<TileMap version='1.0.0'/>")
    tms = open_imagery(tmp_path)
    assert tms.scheme == "tms"
    xyz = open_imagery(source)
    assert tms.bounds == pytest.approx(xyz.bounds)
    bounds = tile_bounds(17, 62093, 50163)
    np.testing.assert_array_equal(tms.read(bounds, 64).rgb, xyz.read(bounds, 64).rgb)


def test_empty_and_unknown_folders_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "17" / "3").mkdir(parents=True)
    with pytest.raises(InputError, match="empty tile folder"):
        open_imagery(empty)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "photo.png").write_bytes(b"png")
    with pytest.raises(InputError, match="unknown tile scheme"):
        open_imagery(flat)
    with pytest.raises(InputError, match="unknown tile scheme 'quadkey'"):
        open_imagery(empty, scheme="quadkey")


def test_corrupt_tile_is_reported(shared_data: Path, tmp_path: Path) -> None:
    shutil.copytree(shared_data / "sintra" / "tiles" / "17", tmp_path / "17")
    (tmp_path / "17" / "62093" / "50163.jpg").write_bytes(b"\xff\xd8 truncated")
    imagery = open_imagery(tmp_path)
    with pytest.raises(UnreadableImagery, match=r"tile z/x/y=17/62093/50163 is not a readable "
                       "image") as caught:
        imagery.read(tile_bounds(17, 62093, 50163), 32)
    assert caught.value.reason == UNREADABLE_TILE and isinstance(caught.value, InputError)
    assert "\n" not in str(caught.value)
    # The good tiles next to it still read; a worker gets the reason back through pickling.
    assert imagery.read(tile_bounds(17, 62094, 50163), 32).valid.all()
    assert pickle.loads(pickle.dumps(caught.value)).reason == UNREADABLE_TILE
    # A tile that cannot be read at all (a folder in its place) is unreadable too.
    (tmp_path / "17" / "62094" / "50164.jpg").unlink()
    (tmp_path / "17" / "62094" / "50164.jpg").mkdir()
    with pytest.raises(UnreadableImagery, match="cannot read tile z/x/y=17/62094/50164"):
        open_imagery(tmp_path).read(tile_bounds(17, 62094, 50164), 32)


def test_corrupt_first_tile_does_not_stop_the_folder_opening(shared_data: Path,
                                                            tmp_path: Path) -> None:
    shutil.copytree(shared_data / "sintra" / "tiles" / "17", tmp_path / "17")
    first = min((tmp_path / "17").glob("62092/*.jpg"))  # the tile opening samples first
    first.write_bytes(b"not a jpeg")
    imagery = open_imagery(tmp_path)
    assert (imagery.tile_size, imagery.band_count) == (256, 3)
    with pytest.raises(UnreadableImagery):
        imagery.read(tile_bounds(17, 62092, int(first.stem)), 32)
