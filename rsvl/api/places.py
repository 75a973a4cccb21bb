"""Spatial filters of a search: chips near a place, or inside a polygon.

Footprints may be in any CRS; places are given in longitude/latitude (EPSG:4326). Distances are
measured in metres in an azimuthal equidistant projection centred on the place, which is exact
for distances from that centre.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rsvl.errors import ConfigError, InputError

LONLAT = "EPSG:4326"


def near_mask(footprints: Any, lon: float, lat: float, radius_m: float) -> np.ndarray:
    """Which footprints (a GeoSeries/GeoDataFrame with a CRS) come within ``radius_m`` metres of
    ``(lon, lat)``; also returns nothing for rows without a footprint."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ConfigError(f"near=({lon}, {lat}, ...) is not a longitude/latitude pair; "
                          "give (lon, lat, radius_m) in degrees and metres")
    if radius_m < 0:
        raise ConfigError(f"the search radius must be at least 0 m, got {radius_m}")
    local = _geometry(footprints).to_crs(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +units=m")
    from shapely.geometry import Point

    distance = local.distance(Point(0.0, 0.0)).to_numpy()
    return np.asarray(np.nan_to_num(distance, nan=np.inf) <= radius_m)


def distance_m(footprints: Any, lon: float, lat: float) -> np.ndarray:
    """Metres from ``(lon, lat)`` to each footprint (0 inside it)."""
    from shapely.geometry import Point

    local = _geometry(footprints).to_crs(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +units=m")
    return np.asarray(local.distance(Point(0.0, 0.0)).to_numpy(), dtype=float)


def within_mask(footprints: Any, polygon: Any) -> np.ndarray:
    """Which footprints intersect ``polygon`` (see :func:`as_polygon` for what it may be)."""
    area = as_polygon(polygon)
    geometry = _geometry(footprints).to_crs(LONLAT)
    return np.asarray(geometry.intersects(area).to_numpy())


def as_polygon(polygon: Any) -> Any:
    """A shapely geometry in EPSG:4326 from a shapely geometry, a GeoJSON mapping or string, a
    GeoJSON file path, or a GeoSeries/GeoDataFrame (its union, reprojected)."""
    import shapely
    from shapely.geometry import shape
    from shapely.geometry.base import BaseGeometry

    if isinstance(polygon, BaseGeometry):
        return polygon
    if hasattr(polygon, "to_crs") and hasattr(polygon, "union_all"):
        return polygon.to_crs(LONLAT).union_all()
    if isinstance(polygon, Path) or (isinstance(polygon, str) and not polygon.lstrip()
                                     .startswith("{")):
        path = Path(polygon)
        if not path.is_file():
            raise InputError(f"polygon file not found: {path}")
        import geopandas as gpd

        frame = gpd.read_file(path)
        if frame.empty:
            raise InputError(f"{path} holds no geometry; draw a polygon into it")
        return (frame.set_crs(LONLAT) if frame.crs is None else frame.to_crs(LONLAT)).union_all()
    if isinstance(polygon, str):
        try:
            polygon = json.loads(polygon)
        except json.JSONDecodeError as error:
            raise InputError(f"the polygon is not GeoJSON ({error.msg})") from None
    if isinstance(polygon, dict):
        if polygon.get("type") == "Feature":
            polygon = polygon.get("geometry")
        elif polygon.get("type") == "FeatureCollection":
            return shapely.union_all([as_polygon(f) for f in polygon.get("features", [])])
        try:
            return shape(polygon)
        except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError):
            raise InputError("the polygon is not a valid GeoJSON geometry") from None
    raise ConfigError(f"cannot use a {type(polygon).__name__} as a polygon; pass a shapely "
                      "geometry, GeoJSON or a GeoJSON file")


def _geometry(footprints: Any) -> Any:
    geometry = getattr(footprints, "geometry", None)
    if geometry is None or getattr(footprints, "crs", None) is None:
        raise InputError("this index has no footprints, so it cannot be searched by place; "
                         "index georeferenced imagery or records with footprints")
    return geometry
