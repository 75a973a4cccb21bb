"""Stream OSM files (XML, bz2/gz XML, PBF) into features frames with pyosmium.

Two passes over the file (pyosmium's area manager first collects multipolygon relations), node
locations cached by pyosmium, and features emitted in chunks, so a country extract never has to
fit in memory as a frame. Nodes and ways with tags become Points and LineStrings, closed area
ways (``area_rules.is_area``) Polygons, and multipolygon/boundary relations (Multi)Polygons with
their holes, assembled by libosmium.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import osmium
import shapely

from rsvl.errors import InputError
from rsvl.osm.area_rules import is_area
from rsvl.osm.features import BBox, bbox_polygon, features_frame

# libosmium's names for the formats, by the suffix rsvl dispatches on.
OSM_FILE_FORMATS = {
    ".osm": "osm",
    ".osm.xml": "osm",
    ".osm.bz2": "osm.bz2",
    ".osm.gz": "osm.gz",
    ".osm.pbf": "pbf",
    ".pbf": "pbf",
}


class _Chunk:
    """Parallel lists of one chunk's ids, tags and WKB geometries."""

    def __init__(self) -> None:
        self.osm_ids: list[str] = []
        self.tags: list[dict[str, str]] = []
        self.wkb: list[bytes] = []

    def add(self, osm_id: str, tags: dict[str, str], wkb: bytes) -> None:
        self.osm_ids.append(osm_id)
        self.tags.append(tags)
        self.wkb.append(wkb)

    def __len__(self) -> int:
        return len(self.osm_ids)

    def frame(self, bbox: BBox | None) -> gpd.GeoDataFrame:
        geometries = shapely.from_wkb(self.wkb)
        # A multipolygon of one part is a Polygon (the features contract).
        single = shapely.get_num_geometries(geometries) == 1
        single &= shapely.get_type_id(geometries) == 6
        geometries[single] = shapely.get_geometry(geometries[single], 0)
        frame = features_frame(self.osm_ids, self.tags, geometries)
        if bbox is not None:
            frame = frame.loc[frame.geometry.intersects(bbox_polygon(bbox))]
        return frame.reset_index(drop=True)


def _objects(path: Path, file_format: str) -> osmium.FileProcessor:
    processor = osmium.FileProcessor(osmium.io.File(str(path), file_format))
    return processor.with_locations().with_areas().with_filter(osmium.filter.EmptyTagFilter())


def iter_osm_file(
    path: Path, file_format: str, bbox: BBox | None = None, chunk_size: int = 50_000
) -> Iterator[gpd.GeoDataFrame]:
    """Yield features frames of at most ``chunk_size`` rows from an OSM file.

    Args:
        path: The ``.osm``/``.osm.bz2``/``.osm.gz``/``.osm.pbf`` file.
        file_format: libosmium's format name (a value of ``OSM_FILE_FORMATS``).
        bbox: Keep features intersecting this lon/lat ``(west, south, east, north)`` box.
        chunk_size: Features per yielded frame.

    Raises:
        InputError: The file is truncated or malformed.
    """
    factory = osmium.geom.WKBFactory()
    chunk = _Chunk()
    try:
        for obj in _objects(path, file_format):
            try:
                _add_object(chunk, factory, obj)
            except (RuntimeError, osmium.InvalidLocationError):
                # No geometry: extracts cut ways at their edge (missing node locations,
                # InvalidLocationError) and some ways collapse to one point.
                continue
            if len(chunk) >= chunk_size:
                yield chunk.frame(bbox)
                chunk = _Chunk()
    # The parser reports a malformed coordinate (lat="p.001") as InvalidLocationError and a
    # malformed timestamp or number as ValueError.
    except (RuntimeError, ValueError, osmium.InvalidLocationError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"{path}: not a readable OSM {file_format} file ({reason}); "
            "check that it is complete (re-download it) and well-formed"
        ) from error
    if len(chunk):
        yield chunk.frame(bbox)


def _add_object(chunk: _Chunk, factory: osmium.geom.WKBFactory, obj: object) -> None:
    # WKBFactory returns hex text.
    if isinstance(obj, osmium.osm.Node):
        chunk.add(f"node/{obj.id}", _tags(obj), bytes.fromhex(factory.create_point(obj)))
    elif isinstance(obj, osmium.osm.Way):
        tags = _tags(obj)
        line = bytes.fromhex(factory.create_linestring(obj))
        if obj.is_closed() and is_area(tags):
            ring = shapely.from_wkb(line)
            if len(ring.coords) >= 4:
                line = shapely.Polygon(ring.coords).wkb
        chunk.add(f"way/{obj.id}", tags, line)
    elif isinstance(obj, osmium.osm.Area) and not obj.from_way():
        # Closed ways are handled above with rsvl's area rules; here only relations.
        wkb = bytes.fromhex(factory.create_multipolygon(obj))
        chunk.add(f"relation/{obj.orig_id()}", _tags(obj), wkb)


def _tags(obj: osmium.osm.OSMObject) -> dict[str, str]:
    # Tags iterate as (key, value) named tuples; this is most of the reader's Python time.
    return dict(obj.tags)
