"""Coordinate helpers: bounds and footprints between CRSs, ground sample distance in metres."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

Bounds = tuple[float, float, float, float]

_GEOD = Geod(ellps="WGS84")
WGS84 = "EPSG:4326"
WEB_MERCATOR = "EPSG:3857"


@lru_cache(maxsize=64)
def _transformer(src_crs: str, dst_crs: str) -> Transformer:
    # Building a Transformer costs milliseconds; chips reuse a handful of CRS pairs.
    return Transformer.from_crs(CRS.from_user_input(src_crs), CRS.from_user_input(dst_crs),
                                always_xy=True)


def crs_string(crs: Any) -> str:
    """A short CRS name: ``EPSG:XXXX`` when the CRS has an EPSG code, else its WKT.

    Args:
        crs: Anything pyproj or rasterio accept (``EPSG:32633``, a WKT, a rasterio CRS).
    """
    parsed = CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    epsg = parsed.to_epsg()
    return f"EPSG:{epsg}" if epsg else parsed.to_wkt()


@lru_cache(maxsize=64)
def _same_crs(a: str, b: str) -> bool:
    return a == b or crs_string(a) == crs_string(b)


def transform_bounds(bounds: Bounds, src_crs: str, dst_crs: str) -> Bounds:
    """Bounds of a box after reprojection, densified so curved edges stay inside.

    Args:
        bounds: ``(minx, miny, maxx, maxy)`` in ``src_crs``.
        src_crs: CRS of ``bounds``.
        dst_crs: Target CRS.

    Returns:
        ``(minx, miny, maxx, maxy)`` in ``dst_crs``.
    """
    if _same_crs(str(src_crs), str(dst_crs)):
        return tuple(float(v) for v in bounds)  # type: ignore[return-value]
    result = _transformer(str(src_crs), str(dst_crs)).transform_bounds(*bounds, densify_pts=21)
    return tuple(float(v) for v in result)  # type: ignore[return-value]


def footprint_to_crs(geometry: BaseGeometry | dict[str, Any], src_crs: str,
                     dst_crs: str) -> BaseGeometry:
    """Reproject a footprint (a shapely geometry or a GeoJSON-like mapping).

    Args:
        geometry: The footprint in ``src_crs``.
        src_crs: CRS of ``geometry``.
        dst_crs: Target CRS.

    Returns:
        The shapely geometry in ``dst_crs``.
    """
    geom = geometry if isinstance(geometry, BaseGeometry) else shape(geometry)
    if _same_crs(str(src_crs), str(dst_crs)):
        return geom
    transformer = _transformer(str(src_crs), str(dst_crs))

    def _project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _project)


@lru_cache(maxsize=64)
def _is_geographic(crs: str) -> bool:
    return bool(CRS.from_user_input(crs).is_geographic)


def metres_per_unit(crs: str, x: float, y: float) -> tuple[float, float]:
    """Ground metres covered by one CRS unit along x and along y at ``(x, y)``.

    Geodesic, so it holds for any CRS: about ``cos(lat)`` for EPSG:3857, about 1 for UTM,
    about 111 km (y) for EPSG:4326.

    Args:
        crs: The CRS of ``(x, y)``.
        x: Easting (or longitude) of the place.
        y: Northing (or latitude) of the place.
    """
    step = 1e-6 if _is_geographic(str(crs)) else 1.0
    to_lonlat = _transformer(str(crs), WGS84)
    lon, lat = to_lonlat.transform([x, x + step, x], [y, y, y + step])
    _, _, dx = _GEOD.inv(lon[0], lat[0], lon[1], lat[1])
    _, _, dy = _GEOD.inv(lon[0], lat[0], lon[2], lat[2])
    return dx / step, dy / step


def ground_sample_distance(crs: str, bounds: Bounds, width: int, height: int) -> float:
    """Metres on the ground per pixel at the centre of ``bounds`` split into ``width x height``.

    Args:
        crs: CRS of ``bounds``.
        bounds: ``(minx, miny, maxx, maxy)``.
        width: Pixels across.
        height: Pixels down.

    Returns:
        The mean of the pixel's ground width and height, in metres.
    """
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    mx, my = metres_per_unit(crs, cx, cy)
    return ((bounds[2] - bounds[0]) / width * mx + (bounds[3] - bounds[1]) / height * my) / 2


def intersection(a: Bounds, b: Bounds) -> Bounds | None:
    """The overlap of two boxes in the same CRS, or ``None`` when they do not overlap."""
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] < box[2] and box[1] < box[3] else None
