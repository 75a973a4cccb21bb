"""Read GDAL vector exports (GeoJSON, GeoPackage, Shapefile) and rsvl's GeoParquet features.

GeoParquet written by ``write_features`` holds ``osm_id``, ``tags`` (a JSON object as text) and
``geometry``; GeoParquet from elsewhere may hold a ``tags`` column (JSON text, a dict, or
key/value pairs) or one column per tag, which goes through the same normaliser as GeoJSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pyogrio.errors
import shapely.errors

from rsvl.data.atomic import atomic_open
from rsvl.errors import InputError
from rsvl.osm.features import FEATURE_COLUMNS, FEATURE_CRS, features_frame
from rsvl.osm.tables import merge_pieces, normalise_table


def read_gdal_export(path: Path, default_tags: Mapping[str, str] | None = None) -> gpd.GeoDataFrame:
    """Read a GeoJSON/GeoPackage/Shapefile export of OSM features (its first layer).

    Raises:
        InputError: GDAL cannot open the file, or it has no tag columns and no default_tags.
    """
    try:
        table = pyogrio.read_dataframe(path)
    # Besides GDAL's own errors: text that is not UTF-8, geometries GEOS refuses (open rings).
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FeatureError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, UnicodeDecodeError,
            shapely.errors.GEOSException) as error:
        raise InputError(
            f"{path}: not a readable vector file ({str(error).splitlines()[0]}); "
            "check that it is complete and in the format its suffix says"
        ) from error
    return normalise_table(table, str(path), default_tags)


def read_geoparquet(path: Path, default_tags: Mapping[str, str] | None = None) -> gpd.GeoDataFrame:
    """Read GeoParquet features with a ``tags`` column or one column per tag.

    Raises:
        InputError: The file is not GeoParquet (no geometry metadata) or not Parquet at all.
    """
    try:
        table = gpd.read_parquet(path)
    except (ValueError, OSError) as error:
        raise InputError(
            f"{path}: not a GeoParquet file ({str(error).splitlines()[0]}); "
            "write features with rsvl.osm.write_features or geopandas.to_parquet"
        ) from error
    if "tags" not in table.columns:
        return normalise_table(table, str(path), default_tags)
    if table.crs is not None and table.crs != FEATURE_CRS:
        table = table.to_crs(FEATURE_CRS)
    tags = [{**(default_tags or {}), **_tags_cell(cell, path)} for cell in table["tags"]]
    osm_ids = (
        table["osm_id"].astype(str).tolist()
        if "osm_id" in table.columns
        else [f"feature/{row}" for row in range(len(table))]
    )
    return merge_pieces(features_frame(osm_ids, tags, table.geometry.to_numpy()))


def write_features(features: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write a features frame as rsvl's GeoParquet, atomically.

    Args:
        features: A frame with the features columns (``osm_id``, ``tags``, ``geometry``).
        path: The ``.parquet`` file to write.

    Returns:
        The path written.
    """
    target = Path(path)
    table = features[list(FEATURE_COLUMNS)].copy()
    table["tags"] = [json.dumps(tags, sort_keys=True, ensure_ascii=False) for tags in table["tags"]]
    with atomic_open(target, "wb") as handle:
        table.to_parquet(handle, index=False)
    return target


def _tags_cell(cell: Any, path: Path) -> dict[str, str]:
    if cell is None:
        return {}
    if isinstance(cell, str):
        try:
            cell = json.loads(cell)
        except json.JSONDecodeError as error:
            raise InputError(
                f"{path}: a 'tags' cell is not a JSON object: {cell[:60]!r}"
            ) from error
    # pyarrow map columns arrive as lists of (key, value) pairs.
    pairs = list(cell.items()) if isinstance(cell, Mapping) else list(cell)
    return {str(key): str(value) for key, value in pairs if value is not None and value != ""}
