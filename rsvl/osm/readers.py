"""Read OSM features from any supported source: one entry point, dispatch by file suffix.

``read_features`` returns one frame; ``iter_features`` streams frames in chunks (OSM files are
streamed with pyosmium; tabular exports are read whole and then chunked). Every reader returns
the features contract of ``rsvl.osm.features``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd

from rsvl.errors import InputError
from rsvl.osm.exports import read_gdal_export, read_geoparquet
from rsvl.osm.features import BBox, clip_to_bbox, empty_features
from rsvl.osm.osmfile import OSM_FILE_FORMATS, iter_osm_file
from rsvl.osm.overpass import OVERPASS_PREFIX, download_overpass, parse_overpass
from rsvl.osm.tags import feature_keys

DEFAULT_CHUNK_SIZE = 50_000

FeatureReader = Callable[
    [Path, BBox | None, int, Mapping[str, str] | None], Iterator[gpd.GeoDataFrame]
]
TableReader = Callable[[Path, Mapping[str, str] | None], gpd.GeoDataFrame]


def _stream_osm_file(
    file_format: str,
    path: Path,
    bbox: BBox | None,
    chunk_size: int,
    default_tags: Mapping[str, str] | None,
) -> Iterator[gpd.GeoDataFrame]:
    for chunk in iter_osm_file(path, file_format, bbox, chunk_size):
        if default_tags:
            chunk["tags"] = [{**default_tags, **tags} for tags in chunk["tags"]]
        yield chunk


def _chunk_table(
    read_table: TableReader,
    path: Path,
    bbox: BBox | None,
    chunk_size: int,
    default_tags: Mapping[str, str] | None,
) -> Iterator[gpd.GeoDataFrame]:
    features = clip_to_bbox(read_table(path, default_tags), bbox)
    for start in range(0, len(features), chunk_size):
        yield features.iloc[start : start + chunk_size].reset_index(drop=True)


READERS: dict[str, FeatureReader] = {
    **{
        suffix: functools.partial(_stream_osm_file, file_format)
        for suffix, file_format in OSM_FILE_FORMATS.items()
    },
    **{
        suffix: functools.partial(_chunk_table, read_gdal_export)
        for suffix in (".geojson", ".json", ".gpkg", ".shp")
    },
    **{
        suffix: functools.partial(_chunk_table, read_geoparquet)
        for suffix in (".parquet", ".geoparquet")
    },
}


def list_formats() -> list[str]:
    """The file suffixes ``read_features`` understands (plus ``overpass:`` sources)."""
    return sorted(READERS)


def get_reader(path: Path) -> FeatureReader:
    """The reader for ``path``, chosen by its longest matching suffix.

    Raises:
        InputError: No reader handles the suffix.
    """
    name = path.name.lower()
    matches = [suffix for suffix in READERS if name.endswith(suffix)]
    if not matches:
        raise InputError(
            f"{path}: unknown OSM input format; supported suffixes: {', '.join(list_formats())} "
            "(or an overpass:bbox=W,S,E,N / overpass:place=Name source)"
        )
    return READERS[max(matches, key=len)]


def iter_features(
    source: str | Path,
    bbox: BBox | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    *,
    default_tags: Mapping[str, str] | None = None,
) -> Iterator[gpd.GeoDataFrame]:
    """Stream OSM features from a file or an Overpass source in frames of ``chunk_size`` rows.

    Args:
        source: A path (``.osm``, ``.osm.xml``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``,
            ``.geojson``, ``.json``, ``.gpkg``, ``.shp``, ``.parquet``, ``.geoparquet``), or
            ``overpass:bbox=W,S,E,N`` / ``overpass:place=Name`` (needs the internet).
        bbox: Keep features intersecting this lon/lat ``(west, south, east, north)`` box.
        chunk_size: Rows per yielded frame.
        default_tags: Tags every feature gets unless it has the key (exports whose tags are
            implicit, such as a buildings layer without tag columns: ``{"building": "yes"}``).

    Yields:
        Frames with columns ``osm_id``, ``tags``, ``geometry`` (EPSG:4326).

    Raises:
        InputError: The file is missing, empty, of an unknown format, malformed or truncated.
    """
    if isinstance(source, str) and source.startswith(OVERPASS_PREFIX):
        features = download_overpass(parse_overpass(source, _overpass_keys()))
        yield clip_to_bbox(features, bbox)
        return
    path = Path(source)
    reader = get_reader(path)
    if not path.is_file():
        raise InputError(f"{path}: OSM input file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: OSM input file is empty")
    yield from reader(path, bbox, chunk_size, default_tags)


def read_features(
    source: str | Path,
    bbox: BBox | None = None,
    *,
    default_tags: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read all OSM features of a source into one frame (see ``iter_features``)."""
    chunks = list(iter_features(source, bbox, default_tags=default_tags))
    if not chunks:
        return empty_features()
    return gpd.GeoDataFrame(pd.concat(chunks, ignore_index=True), crs=chunks[0].crs)


def _overpass_keys() -> tuple[str, ...]:
    # Download the keys that have phrases: the groundable ones.
    return tuple(feature_keys())
