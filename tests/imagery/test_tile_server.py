"""Tile servers over real HTTP (a loopback server of the synthetic region's XYZ pyramid).

Flaky servers must give the tile folder's chips byte for byte; dead ones a one-line
RemoteReadError after the configured attempts; 404s invalid pixels or an InputError.
"""

from __future__ import annotations

import email.utils
import json
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rsvl.errors import ConfigError, InputError, RemoteReadError
from rsvl.imagery import open_imagery
from rsvl.imagery.base import REMOTE_READ_FAILED, UnreadableImagery, UnreadableRemoteImagery
from rsvl.imagery.geo import transform_bounds
from rsvl.imagery.remote import (
    TRANSIENT_STATUS,
    RetryPolicy,
    is_transient_message,
    retry_after_seconds,
)
from rsvl.imagery.tile_folder import TileFolderImagery
from rsvl.imagery.tile_server import TileServerImagery
from rsvl.imagery.tiles import flip_y, tile_bounds

FAST = {"backoff_s": 0.001, "retries": 2}  # three attempts, no real waiting


def _lonlat(imagery: Any) -> tuple[float, ...]:
    """The tile folder's bounds in degrees, a hair inside so no extra tile row is taken."""
    west, south, east, north = transform_bounds(imagery.bounds, imagery.crs, "EPSG:4326")
    return (west + 1e-9, south + 1e-9, east - 1e-9, north - 1e-9)


@pytest.fixture(scope="module")
def local(region: Any) -> TileFolderImagery:
    imagery = open_imagery(region.tiles_dir)
    assert isinstance(imagery, TileFolderImagery)
    return imagery


def _remote(server: Any, local: TileFolderImagery, template: str = "/tiles/{z}/{x}/{y}.png",
            **options: Any) -> TileServerImagery:
    imagery = open_imagery(server.url + template, min_zoom=local.zooms[0],
                           max_zoom=local.zooms[-1], bounds=_lonlat(local), **{**FAST, **options})
    assert isinstance(imagery, TileServerImagery)
    return imagery


def _chips(imagery: Any, local: TileFolderImagery) -> list[Any]:
    """A chip inside, one across the image's west edge (tiles' alpha), one at the coarser zoom."""
    minx, miny, maxx, maxy = local.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    west = min(x for x in np.linspace(minx, maxx - 1, 200) if local.read((x, cy, x + 1, cy + 1), 1)
               .valid.all())
    return [imagery.read((cx - 100, cy - 100, cx + 100, cy + 100), 224),
            imagery.read((west - 60, cy - 60, west + 60, cy + 60), 96, resampling="nearest"),
            imagery.read((minx, miny, maxx, maxy), 64)]


def _same(a: list[Any], b: list[Any]) -> bool:
    return all(np.array_equal(x.rgb, y.rgb) and np.array_equal(x.valid, y.valid)
               for x, y in zip(a, b, strict=True))


def test_flaky_server_gives_the_tile_folder_chips(server: Any, local: TileFolderImagery) -> None:
    server.configure(fail_first=2)  # every tile: 503, 503, then the tile
    remote = _remote(server, local)
    assert (remote.bounds, remote.zooms, remote.gsd_m, remote.band_count) == (
        local.bounds, local.zooms, local.gsd_m, local.band_count)
    expected = _chips(local, local)
    assert not expected[1].valid[:, :40].any() and expected[1].valid[:, 56:].all()  # the edge
    assert _same(_chips(remote, local), expected)
    gets = server.gets()
    assert gets and set(gets.values()) == {3}  # each tile fetched once, after two retries
    # Every GET, failed ones included, went over one kept-alive connection.
    assert server.connections() == 1 < sum(gets.values())
    assert remote.missing_tiles == 0
    # Pickled (to a worker process) without its tiles and connections, it reads the same again.
    clone = pickle.loads(pickle.dumps(remote))
    assert "_tiles" not in clone.__dict__ and "_http" not in clone.__dict__
    assert _same(_chips(clone, local), expected)
    remote.close()
    assert "_http" not in remote.__dict__


def test_dead_server_raises_one_line_remote_read_error(server: Any,
                                                       local: TileFolderImagery) -> None:
    server.configure(fail_first=10_000)
    started = time.perf_counter()
    with pytest.raises(RemoteReadError, match=r"GET http://127\.0\.0\.1:\d+/tiles/17/\d+/\d+"
                       r"\.png failed 3 times \(last: HTTP 503 Service Unavailable\)") as error:
        _remote(server, local)
    assert "\n" not in str(error.value) and not isinstance(error.value, InputError)
    assert time.perf_counter() - started < 5 and sum(server.gets().values()) == 3
    # Refusals that will not change are not retried: one GET, an InputError.
    server.configure(fail_first=10_000, fail_status=403)
    with pytest.raises(InputError, match="HTTP 403 Forbidden; check the URL template"):
        _remote(server, local)
    assert sum(server.gets().values()) == 1


def test_missing_tiles_are_invalid_pixels_or_an_error(server: Any,
                                                      local: TileFolderImagery) -> None:
    # Hide the east neighbour of the centre tile (the centre is sampled on opening).
    zoom = local.zooms[-1]
    span = tile_bounds(zoom, 0, 0)[2] - tile_bounds(zoom, 0, 0)[0]
    minx, miny, maxx, maxy = local.bounds
    x = int(((minx + maxx) / 2 - tile_bounds(zoom, 0, 0)[0]) // span) + 1
    y = int((tile_bounds(zoom, 0, 0)[3] - (miny + maxy) / 2) // span)
    hidden = f"/tiles/{zoom}/{x}/{y}.png"
    server.configure(hidden=[hidden])
    box = tile_bounds(zoom, x, y)
    remote = _remote(server, local)
    chip = remote.read(box, 256, resampling="nearest")
    assert not chip.valid.any() and not chip.rgb.any() and remote.missing_tiles == 1
    assert local.read(box, 256).valid.any()  # the folder has it: the 404 made it invalid
    assert server.gets()[hidden] == 1  # a 404 is an answer, not retried
    strict = _remote(server, local, missing="error")
    with pytest.raises(InputError, match=rf"{hidden}: tile z/x/y={zoom}/{x}/{y} is missing "
                                         r"\(HTTP 404\)"):
        strict.read(box, 256)


def test_tms_template_and_cache_folder(server: Any, local: TileFolderImagery, region: Any,
                                       tmp_path: Path) -> None:
    # The same tiles with TMS rows, served from a folder beside the XYZ one.
    for tile in region.tiles_dir.glob("*/*/*.png"):
        zoom, x, y = int(tile.parent.parent.name), tile.parent.name, int(tile.stem)
        target = region.out_dir / "tms" / str(zoom) / x / f"{flip_y(zoom, y)}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(tile.read_bytes())
    expected = _chips(local, local)
    cache = tmp_path / "cache"
    tms = _remote(server, local, "/tms/{z}/{x}/{-y}.png", cache=cache)
    assert tms.scheme == "tms" and _same(_chips(tms, local), expected)
    fetched = sum(server.gets().values())
    assert fetched > 1
    # A rerun reads the cache: no GET at all, even with the server refusing everything.
    server.configure(fail_first=10_000)
    assert _same(_chips(_remote(server, local, "/tms/{z}/{x}/{-y}.png", cache=cache), local),
                 expected)
    assert sum(server.gets().values()) == 0
    assert len(list(cache.glob("*/*/*.png"))) == fetched
    assert not list(cache.rglob("*.tmp"))  # written atomically: no leftovers
    # The cache is a tile folder in XYZ order.
    assert _same(_chips(open_imagery(cache), local), expected)
    with pytest.raises(ConfigError, match="holds tiles of http://127.0.0.1:.*/tms/"):
        _remote(server, local, cache=cache)


def test_tilejson_and_bad_options(server: Any, local: TileFolderImagery,
                                  tmp_path: Path) -> None:
    document = tmp_path / "tiles.json"
    document.write_text(json.dumps({
        "tilejson": "2.2.0", "tiles": [server.url + "/tiles/{z}/{x}/{y}.png"],
        "minzoom": local.zooms[0], "maxzoom": local.zooms[-1], "bounds": _lonlat(local)}))
    from_json = open_imagery(document, reader="tile_server", **FAST)
    assert from_json.bounds == local.bounds and _same(_chips(from_json, local),
                                                      _chips(local, local))
    template = server.url + "/tiles/{z}/{x}/{y}.png"
    with pytest.raises(ConfigError, match="give max_zoom=N"):
        open_imagery(template)
    with pytest.raises(ConfigError, match="missing='skip'"):
        open_imagery(template, max_zoom=17, missing="skip")
    with pytest.raises(InputError, match=r"no tile at the centre of bounds .* zooms 15\.\.17"):
        open_imagery(template, min_zoom=15, max_zoom=17)  # the world's centre: no tiles there
    document.write_text('{"tiles": ["not a template"]}')
    with pytest.raises(InputError, match="not a raster TileJSON"):
        open_imagery(document, reader="tile_server")


def test_retry_delays() -> None:
    policy = RetryPolicy(retries=3, backoff_s=1.0, max_backoff_s=5.0)
    assert [0.5 <= policy.delay(i) / min(2 ** i, 5.0) <= 1.0 for i in range(5)] == [True] * 5
    assert policy.delay(0, retry_after_s=2.0) == 2.0  # the server's wish, not the backoff
    assert policy.delay(0, retry_after_s=600.0) == 5.0  # capped
    assert retry_after_seconds("7") == 7.0 and retry_after_seconds(None) is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 < (retry_after_seconds(in_ten) or 0.0) <= 10.0
    assert retry_after_seconds("soon") is None


def test_tile_reads_fail_at_once_unless_transient(server: Any, local: TileFolderImagery) -> None:
    remote = _remote(server, local)
    zoom = local.zooms[-1]
    minx, miny, maxx, maxy = local.bounds
    box = (minx, maxy - 30, minx + 30, maxy)  # the north-west corner tile, not fetched yet
    # 500 then 200: retried, the chip is the folder's.
    server.configure(fail_first=1, fail_status=500)
    assert _same([remote.read(box, 32)], [local.read(box, 32)])
    assert set(server.gets().values()) == {2}
    # A server that keeps failing: the read raises the reader's "skip this chip" error.
    server.configure(fail_first=10_000, fail_status=503)
    box = (maxx - 30, miny, maxx, miny + 30)  # the south-east corner tile
    with pytest.raises(UnreadableRemoteImagery, match=rf"GET .*/tiles/{zoom}/\d+/\d+\.png "
                       r"failed 3 times \(last: HTTP 503") as dead:
        remote.read(box, 32)
    assert dead.value.reason == REMOTE_READ_FAILED and isinstance(dead.value, RemoteReadError)
    # A refusal (403) or a 501 will not pass: one GET each, an InputError that stops the build.
    for status, reason in ((403, "Forbidden"), (501, "Not Implemented")):
        server.configure(fail_first=10_000, fail_status=status)
        with pytest.raises(InputError, match=rf"HTTP {status} {reason}; check") as refused:
            remote.read(box, 32)
        assert not isinstance(refused.value, UnreadableImagery)
        assert sum(server.gets().values()) == 1


def test_transient_failures_are_told_from_the_others() -> None:
    assert {429, 500, 502, 503, 504, 408} <= TRANSIENT_STATUS
    assert not {400, 401, 403, 404, 501, 505} & TRANSIENT_STATUS
    for message in ("CURL error: Recv failure: Connection reset by peer",
                    "Operation timed out after 30001 milliseconds with 0 bytes received",
                    "CURL error: Empty reply from server", "Failed to connect to h port 80"):
        assert is_transient_message(message), message
    for message in ("TIFFReadEncodedTile() failed.", "not recognized as a supported file format",
                    "Could not resolve host: tiles.example.invalid",
                    "Failed to resolve 'h.invalid' ([Errno -2] Name or service not known)"):
        assert not is_transient_message(message), message


def test_unresolvable_host_fails_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(InputError, match="host name does not resolve"):
        open_imagery("http://tiles.rsvl-test.invalid/{z}/{x}/{y}.png", max_zoom=3,
                     bounds=(0, 0, 1, 1), backoff_s=5.0, timeout_s=5.0)
    assert time.perf_counter() - started < 5  # no retries with a 5 s backoff
