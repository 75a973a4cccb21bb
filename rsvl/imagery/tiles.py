"""Web-Mercator tile pyramids: tile math, zoom choice and mosaicking across tile edges.

Readers of tile stores (a ``{z}/{x}/{y}`` folder, MBTiles) subclass :class:`TilePyramid`
and supply tile bytes by XYZ address; everything about placing tiles lives here.
"""

from __future__ import annotations

import abc
import io
import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from rsvl.data.images import ImageTooLarge, open_image
from rsvl.errors import InputError
from rsvl.imagery.base import UNREADABLE_TILE, Imagery, UnreadableImagery
from rsvl.imagery.chip import Bounds, Chip
from rsvl.imagery.geo import WEB_MERCATOR, ground_sample_distance

# Half the width of the Web-Mercator world, in metres (EPSG:3857 units).
WORLD_HALF = 20037508.342789244
SCHEMES = ("xyz", "tms", "auto")
_PIL_RESAMPLING = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
                   "cubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS,
                   "average": Image.Resampling.BOX}
# Decoded tiles kept per reader: neighbouring chips share most of their tiles.
_TILE_CACHE_SIZE = 64


def tile_span(zoom: int) -> float:
    """Width of one tile at ``zoom`` in EPSG:3857 metres."""
    return 2 * WORLD_HALF / (1 << zoom)


def flip_y(zoom: int, y: int) -> int:
    """Convert a tile row between the XYZ (north-first) and TMS (south-first) schemes."""
    return (1 << zoom) - 1 - y


def tile_bounds(zoom: int, x: int, y: int) -> Bounds:
    """EPSG:3857 bounds of the XYZ tile ``zoom/x/y``."""
    span = tile_span(zoom)
    return (-WORLD_HALF + x * span, WORLD_HALF - (y + 1) * span,
            -WORLD_HALF + (x + 1) * span, WORLD_HALF - y * span)


class TilePyramid(Imagery):
    """Imagery stored as square Web-Mercator tiles at one or more zoom levels.

    Subclasses set ``zooms`` (sorted) and call :meth:`_describe` with the XYZ tile extent at
    the finest zoom, and implement :meth:`_tile_bytes`.

    Attributes:
        zooms: Zoom levels present, ascending.
        tile_size: Tile width and height in pixels.
        scheme: Row order of the store as read (``xyz`` or ``tms``).
    """

    zooms: list[int]
    tile_size: int
    scheme: str
    _unpicklable: tuple[str, ...] = ("_handle", "_handle_pid", "_tiles")

    @abc.abstractmethod
    def _tile_bytes(self, zoom: int, x: int, y: int) -> bytes | None:
        """Encoded tile at XYZ address ``zoom/x/y``, or ``None`` when the store lacks it."""

    def _describe(self, x_range: tuple[int, int], y_range: tuple[int, int],
                  sample: tuple[int, int, int], data: bytes | None = None) -> None:
        """Set crs, bounds, gsd_m, tile_size and band_count from the finest zoom's tiles.

        Args:
            x_range: Smallest and largest tile column at the finest zoom.
            y_range: Smallest and largest XYZ tile row at the finest zoom.
            sample: XYZ address of one existing tile, decoded to learn size and bands.
            data: The sample's bytes when the caller has them already (a fetched tile).
        """
        zoom = self.zooms[-1]
        tile = self._decode(data if data is not None else self._tile_bytes(*sample), sample)
        if tile.width != tile.height:
            raise InputError(f"{self.source}: tile {sample} is {tile.width}x{tile.height}; "
                             "tile pyramids must have square tiles")
        self.tile_size = tile.width
        # Tiles are read as RGBA whatever their mode; band 4 (alpha) only counts when present.
        self.band_count = 4 if "A" in tile.getbands() or "transparency" in tile.info else 3
        # Keep the decoded sample: the first chip often needs it (a remote tile is fetched once).
        self.__dict__.setdefault("_tiles", OrderedDict())[sample] = self._to_rgba(tile, sample)
        self.crs = WEB_MERCATOR
        minx, _, _, maxy = tile_bounds(zoom, x_range[0], y_range[0])
        _, miny, maxx, _ = tile_bounds(zoom, x_range[1], y_range[1])
        self.bounds = (minx, miny, maxx, maxy)
        pixel = tile_span(zoom) / self.tile_size
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        self.gsd_m = ground_sample_distance(
            self.crs, (cx - pixel / 2, cy - pixel / 2, cx + pixel / 2, cy + pixel / 2), 1, 1)

    def _decode(self, data: bytes | None, address: tuple[int, int, int]) -> Image.Image:
        if data is None:
            raise InputError(f"{self.source}: tile {address} is missing")
        try:
            image = open_image(io.BytesIO(data), f"tile {'/'.join(map(str, address))}")
            image.load()
        # PIL reports broken files as any of these (SyntaxError: "broken PNG file").
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
                Image.DecompressionBombError, ImageTooLarge) as exc:
            raise UnreadableImagery(
                f"{self.source}: tile z/x/y={'/'.join(map(str, address))} is not a readable "
                f"image ({exc}); re-export or re-fetch the tile", UNREADABLE_TILE) from None
        return image

    def _to_rgba(self, tile: Image.Image, address: tuple[int, int, int]) -> np.ndarray:
        if tile.size != (self.tile_size, self.tile_size):
            raise UnreadableImagery(
                f"{self.source}: tile z/x/y={'/'.join(map(str, address))} is {tile.width}x"
                f"{tile.height}, the pyramid's tiles are {self.tile_size} px", UNREADABLE_TILE)
        return np.asarray(tile.convert("RGBA"))

    def choose_zoom(self, resolution: float) -> int:
        """The coarsest available zoom whose pixels are at least as fine as ``resolution``.

        Args:
            resolution: Wanted EPSG:3857 units per chip pixel.

        Returns:
            That zoom, or the finest available one when none is fine enough.
        """
        for zoom in self.zooms:
            if tile_span(zoom) / self.tile_size <= resolution * (1 + 1e-6):
                return zoom
        return self.zooms[-1]

    def _tile_rgba(self, zoom: int, x: int, y: int) -> np.ndarray | None:
        """Decoded RGBA tile (cached), or ``None`` when missing or outside the world."""
        if not (0 <= x < 1 << zoom and 0 <= y < 1 << zoom):
            return None
        cache: OrderedDict[tuple[int, int, int], np.ndarray | None]
        cache = self.__dict__.setdefault("_tiles", OrderedDict())
        key = (zoom, x, y)
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        data = self._tile_bytes(zoom, x, y)
        rgba = None if data is None else self._to_rgba(self._decode(data, key), key)
        cache[key] = rgba
        if len(cache) > _TILE_CACHE_SIZE:
            cache.popitem(last=False)
        return rgba

    def read(self, bounds: Bounds, size: int | tuple[int, int],
             bands: Sequence[int] | None = None, resampling: str = "bilinear") -> Chip:
        """Read a chip (mosaic of the tiles at the best zoom); see :meth:`Imagery.read`."""
        width, height = self._check_request(bounds, size, resampling)
        chosen = self._select_bands(bands, (1, 2, 3))
        minx, miny, maxx, maxy = bounds
        zoom = self.choose_zoom(min((maxx - minx) / width, (maxy - miny) / height))
        span = tile_span(zoom)
        x0, x1 = math.floor((minx + WORLD_HALF) / span), math.ceil((maxx + WORLD_HALF) / span)
        y0, y1 = math.floor((WORLD_HALF - maxy) / span), math.ceil((WORLD_HALF - miny) / span)
        size_px = self.tile_size
        mosaic = np.zeros(((y1 - y0) * size_px, (x1 - x0) * size_px, 4), dtype=np.uint8)
        for y in range(y0, y1):
            for x in range(x0, x1):
                tile = self._tile_rgba(zoom, x, y)
                if tile is not None:
                    mosaic[(y - y0) * size_px:(y - y0 + 1) * size_px,
                           (x - x0) * size_px:(x - x0 + 1) * size_px] = tile
        # The mosaic's pixel grid is EPSG:3857, like the request: crop and resize, no warp.
        pixel = span / size_px
        left = (minx - (-WORLD_HALF + x0 * span)) / pixel
        top = ((WORLD_HALF - y0 * span) - maxy) / pixel
        box = (left, top, left + (maxx - minx) / pixel, top + (maxy - miny) / pixel)
        image = Image.fromarray(mosaic, mode="RGBA")
        pixels = np.asarray(image.resize((width, height), _PIL_RESAMPLING[resampling], box=box))
        alpha = np.asarray(image.getchannel("A").resize((width, height),
                                                        Image.Resampling.NEAREST, box=box))
        valid = alpha > 0
        rgb = np.ascontiguousarray(pixels[..., [b - 1 for b in chosen]])
        rgb[~valid] = 0
        return Chip(rgb=rgb, valid=valid, bounds=tuple(bounds),  # type: ignore[arg-type]
                    crs=self.crs, gsd_m=ground_sample_distance(self.crs, bounds, width, height))


def check_scheme(scheme: str, source: str) -> None:
    """Raise :class:`InputError` unless ``scheme`` is ``xyz``, ``tms`` or ``auto``."""
    if scheme not in SCHEMES:
        raise InputError(f"unknown tile scheme {scheme!r} for {source}; use one of "
                         f"{', '.join(SCHEMES)}")
