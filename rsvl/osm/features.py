"""The features frame: one row per OSM object, the shape every reader returns.

Columns are exactly ``osm_id`` ("node/123", "way/45", "relation/6", or "feature/N" when an
export carries no OSM id), ``tags`` (raw non-null tags as ``dict[str, str]``) and ``geometry``
in EPSG:4326.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from rsvl.errors import ConfigError

FEATURE_COLUMNS = ("osm_id", "tags", "geometry")
FEATURE_CRS = "EPSG:4326"

BBox = tuple[float, float, float, float]


def features_frame(
    osm_ids: Sequence[str], tags: Sequence[dict[str, str]], geometries: Sequence[Any]
) -> gpd.GeoDataFrame:
    """Assemble a features frame from parallel lists (geometries as shapely objects)."""
    return gpd.GeoDataFrame(
        {"osm_id": list(osm_ids), "tags": list(tags)},
        geometry=gpd.GeoSeries(list(geometries), crs=FEATURE_CRS),
    )


def empty_features() -> gpd.GeoDataFrame:
    """A features frame with no rows and the right columns."""
    return features_frame([], [], [])


def bbox_polygon(bbox: BBox) -> BaseGeometry:
    """The lon/lat ``(west, south, east, north)`` box as a polygon."""
    west, south, east, north = bbox
    if not (west < east and south < north):
        raise ConfigError(
            f"bbox {bbox} is not (west, south, east, north) with west < east and south < north"
        )
    return shapely.box(west, south, east, north)


def clip_to_bbox(features: gpd.GeoDataFrame, bbox: BBox | None) -> gpd.GeoDataFrame:
    """Keep the features that intersect ``bbox``; geometries stay whole (not cut)."""
    if bbox is None or features.empty:
        return features
    keep = features.geometry.intersects(bbox_polygon(bbox))
    return features.loc[keep].reset_index(drop=True)
