"""Normalise tabular OSM exports (GeoJSON, GeoPackage, Shapefile, GeoParquet, osmnx) to features.

Real exports carry one column per tag key, null where a feature lacks the key, metadata columns
(``@id``, ``@user``, ``@timestamp``...), ids in several spellings, and keys cut to 10 characters
by a Shapefile round trip (``protect_cl`` beside ``protect_class``). This module turns any such
frame into the features contract (``rsvl.osm.features``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
import shapely.errors

from rsvl.errors import InputError
from rsvl.osm.features import FEATURE_CRS, features_frame

# Columns that name the OSM object, by priority; a type column may accompany a bare number.
ID_COLUMNS = ("@id", "id", "osm_id")
TYPE_COLUMNS = ("@type", "osm_type", "element", "element_type")
# Non-tag columns that exporters add: osmnx's member lists and GDAL's OSM driver's extras.
STRUCTURAL_COLUMNS = frozenset({"nodes", "ways", "members", "other_tags", "fid"})
_OSM_TYPES = {"n": "node", "w": "way", "r": "relation"}
# Without a type column, an id's element type is inferred from its geometry.
_TYPE_BY_GEOMETRY = {"Point": "node", "MultiPolygon": "relation"}
SHAPEFILE_KEY_LENGTH = 10


def normalise_table(
    table: gpd.GeoDataFrame, source: str, default_tags: Mapping[str, str] | None = None
) -> gpd.GeoDataFrame:
    """Turn an export with tag columns into a features frame.

    Args:
        table: The export as read (osmnx frames indexed by ``(element, id)`` are accepted).
        source: The file or query it came from, for error messages.
        default_tags: Tags every feature gets unless it has the key already, for exports whose
            tags are implicit (a buildings-only layer: ``{"building": "yes"}``).

    Returns:
        The features frame; features left without any tag are dropped, and the pieces of one
        OSM object (tile-cut exports repeat an id once per tile) are merged into one geometry.

    Raises:
        InputError: There are no tag columns and no ``default_tags``.
    """
    table = _reset_osmnx_index(table)
    if table.crs is not None and table.crs != FEATURE_CRS:
        table = table.to_crs(FEATURE_CRS)
    tag_columns = [column for column in table.columns if _is_tag_column(table, column)]
    if not tag_columns and not default_tags and len(table):
        raise InputError(
            f"{source} has no OSM tag columns; pass default_tags=... (for example "
            '{"building": "yes"} for a buildings layer)'
        )
    renames = full_key_renames(table[tag_columns])
    osm_ids = _osm_ids(table)
    all_tags = []
    for row in table[tag_columns].to_dict("records"):
        tags = dict(default_tags or {})
        for column, value in row.items():
            text = tag_value(value)
            if text is not None:
                tags[renames.get(column, column)] = text
        all_tags.append(tags)
    frame = features_frame(osm_ids, all_tags, table.geometry.to_numpy())
    return merge_pieces(frame.loc[frame["tags"].map(bool)].reset_index(drop=True))


def merge_pieces(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Union the geometries of rows that share an ``osm_id``, keeping the first row's tags."""
    repeated = frame["osm_id"].duplicated(keep=False)
    if not repeated.any():
        return frame
    pieces = frame.loc[repeated]
    unions = pieces.geometry.groupby(pieces["osm_id"], sort=False).agg(
        lambda group: _union(group.to_numpy())
    )
    result = frame.loc[~frame["osm_id"].duplicated(keep="first")].reset_index(drop=True)
    merged = result["osm_id"].isin(unions.index)
    result.loc[merged, "geometry"] = unions.loc[result.loc[merged, "osm_id"]].to_numpy()
    return result


def _union(geometries: Any) -> Any:
    try:
        return shapely.union_all(geometries)
    except shapely.errors.GEOSException:  # an invalid piece (self-intersecting ring): repair it
        return shapely.union_all(shapely.make_valid(geometries))


def tag_value(value: Any) -> str | None:
    """A cell as OSM tag text, or None for null/empty cells (floats that hold integers as ints)."""
    if value is None or isinstance(value, (list, tuple, dict)):
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if value is pd.NA or value is pd.NaT:
        return None
    text = str(value).strip()
    return text or None


def shapefile_key(key: str) -> str:
    """What a Shapefile round trip makes of a tag key: ``:`` to ``_``, cut to 10 characters."""
    return key.replace(":", "_")[:SHAPEFILE_KEY_LENGTH]


def full_key_renames(tag_table: pd.DataFrame) -> dict[str, str]:
    """Map Shapefile-cut column names to the full key present in the same table.

    A column ``c`` is renamed to ``k`` when ``k`` is the only other column with
    ``shapefile_key(k) == c`` and the two never disagree on a feature (a real key that merely
    looks cut, such as ``population`` beside ``population:date``, holds different values).
    """
    by_short: dict[str, list[str]] = {}
    for key in tag_table.columns:
        short = shapefile_key(key)
        if short != key:
            by_short.setdefault(short, []).append(key)
    renames = {}
    for column in tag_table.columns:
        candidates = by_short.get(column, [])
        if len(candidates) == 1 and _agree(tag_table[column], tag_table[candidates[0]]):
            renames[column] = candidates[0]
    return renames


def _agree(short: pd.Series, full: pd.Series) -> bool:
    both = short.notna() & full.notna()
    return bool((short[both].astype(str) == full[both].astype(str)).all())


def _reset_osmnx_index(table: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if list(table.index.names) == ["element", "id"]:
        return table.reset_index()
    return table


def _id_columns(table: pd.DataFrame) -> tuple[str | None, str | None]:
    id_column = next((column for column in ID_COLUMNS if column in table.columns), None)
    type_column = next((column for column in TYPE_COLUMNS if column in table.columns), None)
    return id_column, type_column


def _is_tag_column(table: gpd.GeoDataFrame, column: str) -> bool:
    return (
        column != table.geometry.name
        and not column.startswith("@")
        and column not in ID_COLUMNS
        and column not in TYPE_COLUMNS
        and column not in STRUCTURAL_COLUMNS
    )


def _osm_ids(table: gpd.GeoDataFrame) -> list[str]:
    id_column, type_column = _id_columns(table)
    types = table[type_column].tolist() if type_column else [None] * len(table)
    ids = table[id_column].tolist() if id_column else [None] * len(table)
    geometry_types = table.geometry.geom_type.tolist()
    return [
        _osm_id(raw_id, raw_type, geometry_type, row)
        for row, (raw_id, raw_type, geometry_type) in enumerate(
            zip(ids, types, geometry_types, strict=True)
        )
    ]


def _osm_id(raw_id: Any, raw_type: Any, geometry_type: str | None, row: int) -> str:
    text = tag_value(raw_id)
    if text is None:
        # Stable across reads of the same file: the row's position.
        return f"feature/{row}"
    if "/" in text:
        element, _, number = text.partition("/")
        return f"{_OSM_TYPES.get(element[:1].lower(), element)}/{number}"
    type_text = tag_value(raw_type)
    if type_text:
        element = _OSM_TYPES.get(type_text[:1].lower(), type_text)
    else:
        element = _TYPE_BY_GEOMETRY.get(geometry_type or "", "way")
    return f"{element}/{text}"
