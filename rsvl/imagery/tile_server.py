"""Imagery from an XYZ/TMS tile server over HTTP: ``https://host/{z}/{x}/{y}.png``.

A tile server does not list what it holds, so the reader is told: ``max_zoom`` (the finest
zoom; chips use it and the coarser zooms down to ``min_zoom``) and ``bounds`` (lon/lat, default
the whole Web-Mercator world), or a TileJSON document (its URL or path, with
``reader="tile_server"``) that gives them. ``{-y}`` in the template, or ``scheme="tms"``, means
TMS rows.

Every GET is retried with backoff on timeouts, dropped connections, 429 and 5xx
(:mod:`rsvl.imagery.remote`); other failures are not retried. A tile whose GETs all failed
raises :class:`rsvl.imagery.base.UnreadableRemoteImagery` from :meth:`read` (builds skip and
count the chip). Without ``bounds`` a server is taken to cover the whole world, and builds plan
only the area of their OSM features (:mod:`rsvl.builders.guards`). A tile the server lacks
(404, 410, 204) is invalid pixels, like an absent file in a tile folder, and counted in
:attr:`TileServerImagery.missing_tiles`; ``missing="error"`` raises instead.
``cache=FOLDER`` keeps fetched tiles as a ``{z}/{x}/{y}`` tile folder, written atomically, so
reruns and resumed builds do not fetch them again (the folder opens as a tile folder too).
"""

from __future__ import annotations

import json
import logging
import math
import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from rsvl.data.atomic import atomic_open, read_json, write_json
from rsvl.errors import ConfigError, InputError, RemoteReadError
from rsvl.imagery.base import UnreadableRemoteImagery
from rsvl.imagery.geo import WEB_MERCATOR, WGS84, transform_bounds
from rsvl.imagery.registry import is_tile_url
from rsvl.imagery.remote import RetryPolicy, http_get
from rsvl.imagery.tile_folder import TILE_EXTENSIONS
from rsvl.imagery.tiles import WORLD_HALF, TilePyramid, check_scheme, flip_y, tile_span

logger = logging.getLogger(__name__)

# Latitude limit of the square Web-Mercator world.
MAX_LATITUDE = 85.0511287798066
WORLD_LONLAT = (-180.0, -MAX_LATITUDE, 180.0, MAX_LATITUDE)
MISSING_POLICIES = ("invalid", "error")
CACHE_METADATA = "metadata.json"


def _tile_extent(bounds: Sequence[float], zoom: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Tile columns and XYZ rows (inclusive) that cover lon/lat ``bounds`` at ``zoom``."""
    west, south, east, north = bounds
    clamped = (west, max(south, -MAX_LATITUDE), east, min(north, MAX_LATITUDE))
    minx, miny, maxx, maxy = transform_bounds(clamped, WGS84, WEB_MERCATOR)
    span, last = tile_span(zoom), (1 << zoom) - 1

    def index(value: int) -> int:
        return min(max(value, 0), last)

    # A bound on a tile edge belongs to the tile inside it, hence ceil - 1 at the far sides.
    return ((index(math.floor((minx + WORLD_HALF) / span)),
             index(math.ceil((maxx + WORLD_HALF) / span) - 1)),
            (index(math.floor((WORLD_HALF - maxy) / span)),
             index(math.ceil((WORLD_HALF - miny) / span) - 1)))


class TileServerImagery(TilePyramid):
    """Tiles fetched over HTTP from a URL template or a TileJSON document.

    Args:
        source: URL template with ``{z}``, ``{x}`` and ``{y}`` (or ``{-y}``), or a TileJSON
            URL or file.
        licence: Licence of the imagery.
        max_zoom: Finest zoom to read (required unless a TileJSON gives ``maxzoom``).
        min_zoom: Coarsest zoom to read (default 0, or the TileJSON's ``minzoom``).
        zoom: Read this one zoom only (sets ``min_zoom`` and ``max_zoom``).
        bounds: ``(west, south, east, north)`` in degrees where the server has imagery
            (default: the TileJSON's, else the whole world).
        scheme: ``xyz`` or ``tms`` row order (``{-y}`` in the template means ``tms``).
        missing: ``invalid`` (default): a tile the server lacks is invalid pixels;
            ``error``: it raises :class:`rsvl.errors.InputError`.
        cache: Folder that keeps fetched tiles (``{z}/{x}/{y}``) across runs.
        retries: Retries of a GET that failed for a transient reason.
        backoff_s: Delay before the first retry (doubles after each).
        timeout_s: Seconds to wait for the server on each GET.

    Attributes:
        template: The tile URL template.
        missing_tiles: Tiles this reader found missing (each counted once while cached).
    """

    # The HTTP session (its pooled keep-alive connections) stays with the process that made it.
    _unpicklable = (*TilePyramid._unpicklable, "_http")

    def __init__(self, source: str | Path, licence: str = "unknown",
                 max_zoom: int | None = None, min_zoom: int | None = None,
                 zoom: int | None = None, bounds: Sequence[float] | None = None,
                 scheme: str | None = None, missing: str = "invalid",
                 cache: str | Path | None = None, retries: int = 4, backoff_s: float = 0.5,
                 timeout_s: float = 30.0) -> None:
        super().__init__(source, licence)
        if missing not in MISSING_POLICIES:
            raise ConfigError(f"missing={missing!r} for {self.source}: use one of "
                              f"{', '.join(MISSING_POLICIES)}")
        self.policy = RetryPolicy(retries=int(retries), backoff_s=float(backoff_s))
        self.timeout_s = float(timeout_s)
        self.missing = missing
        self.missing_tiles = 0
        tilejson = {} if is_tile_url(self.source) else self._tilejson()
        self.template = str(tilejson.get("tiles", [self.source])[0])
        self.name = urllib.parse.urlsplit(self.template).netloc or self.name
        scheme = scheme or ("tms" if "{-y}" in self.template else tilejson.get("scheme", "xyz"))
        check_scheme(scheme, self.source)
        self.scheme = "xyz" if scheme == "auto" else scheme
        if zoom is not None:
            min_zoom = max_zoom = zoom
        finest = max_zoom if max_zoom is not None else tilejson.get("maxzoom")
        if finest is None:
            raise ConfigError(f"{self.source}: give max_zoom=N, the finest zoom the tile server "
                              "has (a tile server does not say), or a TileJSON URL")
        coarsest = min_zoom if min_zoom is not None else tilejson.get("minzoom", 0)
        if not 0 <= int(coarsest) <= int(finest) <= 30:
            raise ConfigError(f"{self.source}: zooms {coarsest}..{finest} invalid; need "
                              "0 <= min_zoom <= max_zoom <= 30")
        self.zooms = list(range(int(coarsest), int(finest) + 1))
        lonlat = tuple(float(v) for v in (bounds or tilejson.get("bounds") or WORLD_LONLAT))
        if len(lonlat) != 4 or not (lonlat[0] < lonlat[2] and lonlat[1] < lonlat[3]):
            raise ConfigError(f"{self.source}: bounds {lonlat} must be (west, south, east, "
                              "north) in degrees with west < east and south < north")
        self.cache = None if cache is None else Path(cache)
        if self.cache is not None:
            self._claim_cache()
        self._describe(*_tile_extent(lonlat, self.zooms[-1]), *self._sample(lonlat))

    def _tilejson(self) -> dict[str, Any]:
        """The TileJSON document ``source`` names (a URL or a file)."""
        if "://" in self.source:
            data = http_get(self.source, self.policy, self.timeout_s, self._session)
            if data is None:
                raise InputError(f"{self.source}: TileJSON does not exist (HTTP 404)")
        else:
            path = Path(self.source)
            if not path.is_file():
                raise InputError(f"{self.source}: not a tile URL template (no {{z}}/{{x}}/{{y}})"
                                 " and no TileJSON file there")
            data = path.read_bytes()
        try:
            document = json.loads(data)
            tiles = document["tiles"]
            if not is_tile_url(tiles[0]):
                raise ValueError(f"tiles[0] {tiles[0]!r} is not a {{z}}/{{x}}/{{y}} URL")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise InputError(f"{self.source}: not a raster TileJSON ({exc}); expected "
                             '{"tiles": ["https://host/{z}/{x}/{y}.png"], ...}') from None
        return dict(document)

    def _claim_cache(self) -> None:
        """Mark the cache folder as this server's; refuse one that holds another server's."""
        assert self.cache is not None
        parts = urllib.parse.urlsplit(self.template)
        # Without the query: it may hold an API key, which has no place in a file on disk.
        origin = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        metadata = self.cache / CACHE_METADATA
        if metadata.is_file():
            held = read_json(metadata, "tile cache metadata").get("tiles", [None])[0]
            if held != origin:
                raise ConfigError(f"cache folder {self.cache} holds tiles of {held}, not "
                                  f"{origin}; give each tile server its own cache folder")
            return
        # Rows are cached in XYZ order whatever the server's scheme: say so for tile folders.
        write_json(metadata, {"tiles": [origin], "scheme": "xyz"})

    @property
    def _session(self) -> requests.Session:
        """This process's HTTP session, made on first use (keep-alive across tiles).

        A forked worker makes its own: the parent's pooled sockets would be shared by every
        child and their responses interleaved.
        """
        pid, session = self.__dict__.get("_http", (None, None))
        if session is None or pid != os.getpid():
            session = requests.Session()
            self.__dict__["_http"] = (os.getpid(), session)
        return session

    def close(self) -> None:
        """Close the pooled HTTP connections; the next read opens new ones."""
        pid, session = self.__dict__.pop("_http", (None, None))
        if session is not None and pid == os.getpid():
            session.close()
        super().close()

    def tile_url(self, zoom: int, x: int, y: int) -> str:
        """URL of the XYZ tile ``zoom/x/y``."""
        row = flip_y(zoom, y) if self.scheme == "tms" else y
        return (self.template.replace("{z}", str(zoom)).replace("{x}", str(x))
                .replace("{-y}", str(row)).replace("{y}", str(row)))

    def _cache_path(self, zoom: int, x: int, y: int) -> Path:
        assert self.cache is not None
        suffix = Path(urllib.parse.urlsplit(self.template).path).suffix.lower()
        ext = suffix if suffix in TILE_EXTENSIONS else ".png"  # PIL reads by content anyway
        return self.cache / str(zoom) / str(x) / f"{y}{ext}"

    def _fetch(self, zoom: int, x: int, y: int) -> bytes | None:
        """The tile's bytes from the cache or the server; ``None`` when the server lacks it."""
        if self.cache is None:
            return http_get(self.tile_url(zoom, x, y), self.policy, self.timeout_s, self._session)
        path = self._cache_path(zoom, x, y)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        data = http_get(self.tile_url(zoom, x, y), self.policy, self.timeout_s, self._session)
        if data is not None:
            with atomic_open(path, "wb") as handle:
                handle.write(data)
        return data

    def _sample(self, lonlat: Sequence[float]) -> tuple[tuple[int, int, int], bytes]:
        """Address and bytes of a tile at the centre of ``lonlat``, finest zoom first."""
        lon, lat = (lonlat[0] + lonlat[2]) / 2, (lonlat[1] + lonlat[3]) / 2
        for zoom in reversed(self.zooms):
            (x, _), (y, _) = _tile_extent((lon, lat, lon, lat), zoom)
            data = self._fetch(zoom, x, y)
            if data is not None:
                return (zoom, x, y), data
        raise InputError(f"{self.source}: no tile at the centre of bounds {tuple(lonlat)} at "
                         f"zooms {self.zooms[0]}..{self.zooms[-1]} (all HTTP 404); check the "
                         "URL template, the zooms and bounds=(west, south, east, north)")

    def _tile_bytes(self, zoom: int, x: int, y: int) -> bytes | None:
        try:
            data = self._fetch(zoom, x, y)
        except RemoteReadError as exc:  # retries exhausted: the chips needing it are skipped
            raise UnreadableRemoteImagery(str(exc)) from None
        if data is None:
            if self.missing == "error":
                raise InputError(f"{self.tile_url(zoom, x, y)}: tile z/x/y={zoom}/{x}/{y} is "
                                 "missing (HTTP 404); pass missing='invalid' to read it as "
                                 "invalid pixels, or fix bounds/max_zoom")
            if self.missing_tiles == 0:
                logger.warning("%s lacks tile %d/%d/%d (and maybe others): read as invalid "
                               "pixels; pass missing='error' to stop instead", self.name, zoom,
                               x, y)
            self.missing_tiles += 1
        return data
