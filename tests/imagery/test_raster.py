"""RasterImagery on real GeoTIFFs (COG, nodata border) and generated edge cases."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp, Resampling
from rasterio.windows import Window

from rsvl.errors import InputError, RemoteReadError
from rsvl.imagery import open_imagery
from rsvl.imagery.base import (
    REMOTE_READ_FAILED,
    UNREADABLE_WINDOW,
    UnreadableImagery,
    UnreadableRemoteImagery,
)
from rsvl.imagery.raster import RasterImagery, is_remote


def test_cog_metadata_and_native_window_matches_rasterio(shared_data: Path) -> None:
    path = shared_data / "imagery" / "cogeo.tif"
    with open_imagery(path, licence="CC0-1.0") as imagery:
        assert isinstance(imagery, RasterImagery)
        assert imagery.crs == "EPSG:3857" and imagery.band_count == 3
        assert imagery.licence == "CC0-1.0"
        # EPSG:3857 metres shrink by cos(latitude) on the ground (37.67 N here).
        assert imagery.gsd_m == pytest.approx(0.59716 * math.cos(math.radians(37.6685)), rel=1e-3)
        with rasterio.open(path) as dataset:
            window = Window(200, 300, 48, 32)
            expected = dataset.read(window=window)
            bounds = dataset.window_bounds(window)
        chip = imagery.read(bounds, (48, 32), resampling="nearest")
    assert chip.rgb.shape == (32, 48, 3) and chip.valid.all()
    np.testing.assert_array_equal(chip.rgb, np.moveaxis(expected, 0, -1))
    assert chip.stretch is None and chip.crs == "EPSG:3857"
    assert chip.gsd_m == pytest.approx(imagery.gsd_m, rel=1e-3)


def test_cog_downsampled_read_uses_whole_extent(shared_data: Path) -> None:
    with open_imagery(shared_data / "imagery" / "cogeo.tif") as imagery:
        chip = imagery.read(imagery.bounds, 64)
        with rasterio.open(imagery.source) as dataset:
            expected = dataset.read(out_shape=(3, 64, 64), resampling=Resampling.bilinear)
    assert chip.gsd_m == pytest.approx(imagery.gsd_m * 16, rel=1e-3)
    np.testing.assert_array_equal(chip.rgb, np.moveaxis(expected, 0, -1))


def test_nodata_border_is_invalid(shared_data: Path) -> None:
    with open_imagery(shared_data / "imagery" / "landsat7-rgb-300m.tif") as imagery:
        assert imagery.crs == "EPSG:32618"
        assert imagery.gsd_m == pytest.approx(300, rel=0.01)
        chip = imagery.read(imagery.bounds, 100)
    assert not chip.valid[0, 0] and not chip.valid[-1, -1]
    assert chip.valid[50, 50]
    assert 0.3 < chip.valid_fraction < 0.95
    assert not chip.rgb[~chip.valid].any()


def test_chip_crossing_the_edge_is_partly_invalid(make_geotiff, gradient, grid_bounds) -> None:
    imagery = open_imagery(make_geotiff("edge.tif", gradient))
    chip = imagery.read(grid_bounds(96, 0, 64, 64), 64, resampling="nearest")
    assert chip.valid[:, :32].all() and not chip.valid[:, 32:].any()
    assert chip.valid_fraction == pytest.approx(0.5)
    np.testing.assert_array_equal(chip.rgb[:, :32], np.moveaxis(gradient[:, :64, 96:], 0, -1))
    assert not chip.rgb[:, 32:].any()


def test_sixteen_bit_stretch_and_band_selection(make_geotiff) -> None:
    rng = np.random.default_rng(0)
    # Band b holds values spread over [1000 b, 1000 b + 1000].
    pixels = np.stack([rng.uniform(1000 * b, 1000 * b + 1000, (64, 64)) for b in range(1, 5)])
    imagery = open_imagery(make_geotiff("ms.tif", pixels.astype(np.uint16)))
    rule = imagery.stretch_rule
    assert rule["method"] == "percentile" and rule["percentiles"] == [2.0, 98.0]
    assert rule["min"][3] == pytest.approx(4020, abs=15)
    assert rule["max"][3] == pytest.approx(4980, abs=15)
    chip = imagery.read(imagery.bounds, 64, bands=(4, 3, 2), resampling="nearest")
    assert chip.stretch["bands"] == [4, 3, 2] and chip.stretch["min"][0] == rule["min"][3]
    expected_red = np.clip((pixels[3].astype(np.uint16) - rule["min"][3])
                           * 255 / (rule["max"][3] - rule["min"][3]), 0, 255).round()
    np.testing.assert_allclose(chip.rgb[..., 0], expected_red, atol=1)
    assert 0.0 < (chip.rgb[..., 0] == 255).mean() < 0.05  # only the top 2 % saturate
    grey = imagery.read(imagery.bounds, 16, bands=(1,))
    assert (grey.rgb[..., 0] == grey.rgb[..., 2]).all()
    fixed = open_imagery(imagery.source, stretch=(0, 8000)).read(imagery.bounds, 8)
    assert fixed.stretch["method"] == "fixed" and fixed.stretch["max"] == [8000.0] * 3
    with pytest.raises(InputError, match="bands"):
        imagery.read(imagery.bounds, 8, bands=(5, 1, 2))


def test_float_nan_is_invalid(make_geotiff, grid_bounds) -> None:
    pixels = np.ones((1, 32, 32), dtype=np.float32)
    pixels[0, :, :8] = np.nan
    chip = open_imagery(make_geotiff("float.tif", pixels)).read(grid_bounds(0, 0, 32, 32), 32,
                                                               resampling="nearest")
    assert chip.valid_fraction == pytest.approx(0.75) and not chip.valid[:, :8].any()


def test_alpha_band_is_the_valid_mask(make_geotiff, gradient) -> None:
    alpha = np.full((1, 128, 128), 255, dtype=np.uint8)
    alpha[:, :, :40] = 0
    path = make_geotiff("rgba.tif", np.concatenate([gradient, alpha]), photometric="RGB")
    with rasterio.open(path, "r+") as dataset:
        dataset.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue,
                               ColorInterp.alpha]
    imagery = open_imagery(path)
    chip = imagery.read(imagery.bounds, 128, resampling="nearest")
    assert imagery.band_count == 4
    assert not chip.valid[:, :40].any() and chip.valid[:, 40:].all()
    np.testing.assert_array_equal(chip.rgb[:, 40:], np.moveaxis(gradient[:, :, 40:], 0, -1))


def test_vrt_over_a_geotiff_reads_the_same_pixels(make_geotiff, gradient, tmp_path,
                                                  grid_bounds) -> None:
    tif = make_geotiff("base.tif", gradient)
    with rasterio.open(tif) as dataset:
        transform = ", ".join(str(v) for v in dataset.transform.to_gdal())
        wkt = dataset.crs.to_wkt()
    bands = "".join(
        f'<VRTRasterBand dataType="Byte" band="{b}"><SimpleSource>'
        f'<SourceFilename relativeToVRT="1">base.tif</SourceFilename><SourceBand>{b}</SourceBand>'
        "</SimpleSource></VRTRasterBand>" for b in (1, 2, 3))
    vrt = tmp_path / "mosaic.vrt"
    vrt.write_text(f'<VRTDataset rasterXSize="128" rasterYSize="128"><SRS>{wkt}</SRS>'
                   f"<GeoTransform>{transform}</GeoTransform>{bands}</VRTDataset>")
    bounds = grid_bounds(10, 20, 50, 40)
    from_vrt = open_imagery(vrt).read(bounds, (50, 40), resampling="nearest")
    from_tif = open_imagery(tif).read(bounds, (50, 40), resampling="nearest")
    np.testing.assert_array_equal(from_vrt.rgb, from_tif.rgb)
    np.testing.assert_array_equal(from_vrt.rgb, np.moveaxis(gradient[:, 20:60, 10:60], 0, -1))


def test_raster_without_crs_is_refused(make_geotiff, gradient) -> None:
    path = make_geotiff("nocrs.tif", gradient, crs=None)
    with pytest.raises(InputError, match="has no CRS; assign one with gdal_edit.py -a_srs"):
        open_imagery(path)


def _truncated_tiff(make_geotiff, folder: Path) -> Path:
    """A tiled GeoTIFF cut in half: its header and the northern blocks are intact."""
    rng = np.random.default_rng(1)
    path = make_geotiff("full.tif", rng.integers(0, 255, (3, 256, 256), dtype=np.uint8))
    truncated = folder / "truncated.tif"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return truncated


def test_truncated_tiff_window_is_unreadable(make_geotiff, tmp_path, grid_bounds) -> None:
    imagery = open_imagery(_truncated_tiff(make_geotiff, tmp_path))
    assert imagery.read(grid_bounds(0, 0, 64, 64), 64).valid.all()  # an intact block
    with pytest.raises(UnreadableImagery, match="truncated.tif: cannot read pixels .* "
                       "truncated") as caught:
        imagery.read(imagery.bounds, 256)
    assert caught.value.reason == UNREADABLE_WINDOW and isinstance(caught.value, InputError)
    assert "\n" not in str(caught.value)


def test_not_a_raster_and_missing_file(tmp_path) -> None:
    junk = tmp_path / "junk.tif"
    junk.write_text("not a tiff")
    with pytest.raises(InputError, match="cannot be opened as a raster"):
        open_imagery(junk)
    with pytest.raises(InputError, match="does not exist"):
        open_imagery(tmp_path / "absent.tif")


def test_pickled_reader_reopens(make_geotiff, gradient, grid_bounds) -> None:
    imagery = open_imagery(make_geotiff("p.tif", gradient))
    bounds = grid_bounds(0, 0, 16, 16)
    before = imagery.read(bounds, 16)
    clone = pickle.loads(pickle.dumps(imagery))
    np.testing.assert_array_equal(clone.read(bounds, 16).rgb, before.rgb)
    imagery.close()
    np.testing.assert_array_equal(imagery.read(bounds, 16).rgb, before.rgb)


# Run in a fresh interpreter: forking the test process itself, whose other threads may hold
# locks (GDAL's, logging's) at that moment, can deadlock a child for reasons of its own.
_FORKED_READS = """
import json, multiprocessing, pickle, sys
from rsvl.imagery import open_imagery

imagery = open_imagery(sys.argv[1])
windows = [tuple(w) for w in json.loads(sys.argv[2])]

def read_every(reader, bounds):
    return [reader.read(window, 16).rgb.tobytes() for window in bounds]

def read_inherited(bounds):
    return read_every(imagery, bounds)

imagery.read(windows[0], 16)  # the parent's handle is open when the children fork
expected = read_every(pickle.loads(pickle.dumps(imagery)), windows)
with multiprocessing.get_context("fork").Pool(2) as pool:
    results = [pool.apply_async(read_inherited, (windows[i::2] * 4,)) for i in range(2)]
    got = [result.get(timeout=120) for result in results]
assert all(got[i] == expected[i::2] * 4 for i in range(2)), "a child read another's bytes"
assert imagery.read(windows[5], 16).rgb.tobytes() == expected[5], "the parent's handle moved"
print("same bytes")
"""


def test_forked_workers_do_not_share_the_parents_file_handle(make_geotiff, grid_bounds) -> None:
    # A forked child inherits its parent's open GDAL dataset; reading through that shared file
    # offset in two children at once returns each other's bytes (seen as random "mostly
    # nodata" chips in two-worker builds). Each child must open its own.
    pixels = np.random.default_rng(0).integers(0, 256, (3, 512, 512), dtype=np.uint8)
    path = make_geotiff("f.tif", pixels, compress="deflate", blockxsize=16, blockysize=16)
    windows = [list(grid_bounds(col, row, 16, 16)) for row in range(0, 512, 16)
               for col in range(0, 512, 16)]
    done = subprocess.run([sys.executable, "-c", _FORKED_READS, str(path), json.dumps(windows)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "same bytes", done.stderr


def test_rotated_raster_is_read_north_up(make_geotiff, gradient) -> None:
    from affine import Affine

    rotated = Affine.translation(500000, 4000000) * Affine.rotation(30) * Affine.scale(10, -10)
    imagery = open_imagery(make_geotiff("rotated.tif", gradient, transform=rotated))
    minx, miny, maxx, maxy = imagery.bounds
    assert imagery.band_count == 4  # the warped view's alpha band
    # A 1280 m square turned 30 degrees spans 1280 (cos 30 + sin 30) = 1748 m north-up.
    assert maxx - minx == pytest.approx(1280 * (math.cos(math.pi / 6) + 0.5), rel=0.01)
    chip = imagery.read(imagery.bounds, 64)
    # The turned square fills 1 / (cos 30 + sin 30)^2 = 54 % of its north-up box.
    assert chip.valid_fraction == pytest.approx(0.536, abs=0.05)
    assert not chip.valid[0, 0] and chip.valid[32, 32]


def _cog_chips(imagery: RasterImagery) -> list[Any]:
    """A native-resolution chip, a downsampled whole-image chip, one across the east edge."""
    minx, miny, maxx, maxy = imagery.bounds
    return [imagery.read((minx + 20, miny + 30, minx + 244, miny + 254), 224),
            imagery.read(imagery.bounds, 64),
            imagery.read((maxx - 50, miny + 50, maxx + 50, miny + 150), 100)]


def test_cog_over_flaky_http_matches_the_local_file(region: Any, server: Any) -> None:
    local = open_imagery(region.orthophoto_path)
    expected = _cog_chips(local)  # type: ignore[arg-type]
    assert expected[2].valid[:, :40].all() and not expected[2].valid[:, 60:].any()
    server.configure(fail_first=2)  # every range request: 503, 503, then the bytes
    # A query string per test: GDAL caches what it learnt about a URL for the whole process.
    for source in (f"/vsicurl/{server.url}/orthophoto.tif?t=flaky",
                   f"{server.url}/orthophoto.tif?t=flaky-url"):
        remote = open_imagery(source, backoff_s=0.001)
        assert isinstance(remote, RasterImagery)
        assert (remote.crs, remote.bounds, remote.gsd_m) == (local.crs, local.bounds,
                                                              local.gsd_m)
        for got, want in zip(_cog_chips(remote), expected, strict=True):
            assert np.array_equal(got.rgb, want.rgb) and np.array_equal(got.valid, want.valid)
        remote = pickle.loads(pickle.dumps(remote))  # to a worker: reopens over HTTP
        assert np.array_equal(_cog_chips(remote)[0].rgb, expected[0].rgb)
    assert server.gets()["/orthophoto.tif"] > 3


def test_missing_and_dead_remote_rasters(server: Any) -> None:
    for source in (f"/vsicurl/{server.url}/no/such.tif", f"{server.url}/no/such.tif"):
        with pytest.raises(InputError, match=r"such\.tif does not exist \(HTTP 404\)") as error:
            open_imagery(source, backoff_s=0.001)
        assert "\n" not in str(error.value)
    assert server.gets()["/no/such.tif"] <= 2  # a 404 is not retried
    server.configure(fail_first=10_000)
    started = time.perf_counter()
    with pytest.raises(RemoteReadError, match=r"opening /vsicurl/http://127\.0\.0\.1:\d+/"
                       r"orthophoto\.tif\?t=dead failed 3 times \(last: HTTP 503\)") as failed:
        open_imagery(f"/vsicurl/{server.url}/orthophoto.tif?t=dead", retries=2,
                     backoff_s=0.001)
    assert "\n" not in str(failed.value) and time.perf_counter() - started < 10


def test_remote_gdal_errors_that_will_not_pass_are_not_retried(make_geotiff, tmp_path,
                                                              grid_bounds, serve_folder) -> None:
    """A truncated COG over HTTP: GDAL fails to decode a block, which no retry can fix."""
    _truncated_tiff(make_geotiff, tmp_path)
    with serve_folder(tmp_path) as server:
        imagery = open_imagery(f"/vsicurl/{server.url}/truncated.tif", backoff_s=0.001)
        assert imagery.read(grid_bounds(0, 0, 64, 64), 64).valid.all()
        server.configure(fail_first=0)  # count GETs from here
        started = time.perf_counter()
        with pytest.raises(UnreadableImagery, match=r"truncated\.tif: cannot read pixels") as err:
            imagery.read(imagery.bounds, 256)
        assert err.value.reason == UNREADABLE_WINDOW
        assert not isinstance(err.value, RemoteReadError)  # a bad block, not a flaky server
        # One read's worth of range requests, not five attempts of them.
        assert sum(server.gets().values()) <= 2 and time.perf_counter() - started < 5
        # A server failing every request (HTTP 500) is retried, then the window is skipped.
        imagery = open_imagery(f"/vsicurl/{server.url}/full.tif?t=dead", retries=1,
                               backoff_s=0.001)
        server.configure(fail_first=10_000, fail_status=500)
        with pytest.raises(UnreadableRemoteImagery, match=r"reading /vsicurl/.*full\.tif\?t=dead "
                           r"failed 2 times \(last: HTTP 500\)") as dead:
            imagery.read(grid_bounds(64, 64, 64, 64), 64)
        assert dead.value.reason == REMOTE_READ_FAILED and isinstance(dead.value, RemoteReadError)
        assert sum(server.gets().values()) >= 2  # retried: 500 may pass


def test_remote_sources_are_told_from_local_ones() -> None:
    for source in ("/vsicurl/https://h/a.tif", "/vsis3/bucket/a.tif", "/vsigs/b/a.tif",
                   "/vsiaz/c/a.tif", "https://h/a.tif", "s3://bucket/a.tif",
                   "/vsizip//vsicurl/https://h/a.zip/a.tif"):
        assert is_remote(source), source
    for source in ("ortho.tif", "/data/vsicurl/a.tif", "/vsimem/a.tif", "/vsizip/a.zip/a.tif"):
        assert not is_remote(source), source
