"""Write features as an OpenStreetMap XML (0.6) file.

Nodes come first, then ways, then relations, each in ascending id order (what GDAL's OSM
driver and osmium expect). A polygon without holes becomes a closed way carrying the tags; a
polygon with holes becomes a ``type=multipolygon`` relation whose untagged member ways are the
outer and inner rings. Coordinates are rounded to 1e-7 degrees, OSM's own precision.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Polygon

from rsvl.data.atomic import atomic_open
from rsvl.synth.scene import Feature

FIRST_NODE_ID = 2_100_000_000
FIRST_WAY_ID = 160_000_000
FIRST_RELATION_ID = 11_000_000
EPOCH = dt.datetime(2012, 1, 1, tzinfo=dt.timezone.utc)
SPAN_S = 12 * 365 * 86400
STAMP = "%Y-%m-%dT%H:%M:%SZ"


class _Writer:
    def __init__(self, seed: int, crs: str) -> None:
        self.rng = np.random.default_rng([seed, 271828])
        self.to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.relations: list[str] = []
        self.lon: list[float] = []
        self.lat: list[float] = []
        self.pending_meta: list[str] = []

    def meta(self) -> str:
        """version, timestamp and changeset attributes of one element."""
        if not self.pending_meta:
            # drawn in batches: one generator call per element is the writer's slowest part
            versions = self.rng.integers(1, 9, 4096)
            seconds = self.rng.integers(0, SPAN_S, 4096)
            changesets = self.rng.integers(10_000_000, 150_000_000, 4096)
            self.pending_meta = [
                f'version="{v}" timestamp="{EPOCH + dt.timedelta(seconds=int(t)):{STAMP}}" '
                f'changeset="{c}"'
                for v, t, c in zip(versions, seconds, changesets, strict=True)
            ][::-1]
        return self.pending_meta.pop()

    @staticmethod
    def tag_lines(tags: dict[str, str]) -> str:
        return "".join(
            f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in sorted(tags.items())
        )

    def add_nodes(self, coords: np.ndarray) -> list[int]:
        lon, lat = self.to_lonlat.transform(coords[:, 0], coords[:, 1])
        first = FIRST_NODE_ID + len(self.lon)
        self.lon.extend(np.round(lon, 7).tolist())
        self.lat.extend(np.round(lat, 7).tolist())
        return list(range(first, first + len(coords)))

    def add_way(self, coords: np.ndarray, tags: dict[str, str], closed: bool) -> int:
        unique = coords[:-1] if closed else coords
        refs = self.add_nodes(unique)
        if closed:
            refs.append(refs[0])
        way_id = FIRST_WAY_ID + len(self.ways)
        nds = "".join(f'    <nd ref="{ref}"/>\n' for ref in refs)
        self.ways.append(
            f'  <way id="{way_id}" {self.meta()}>\n{nds}{self.tag_lines(tags)}  </way>\n'
        )
        return way_id

    def add_polygons(self, polygons: list[Polygon], tags: dict[str, str]) -> None:
        if len(polygons) == 1 and not polygons[0].interiors:
            self.add_way(np.asarray(polygons[0].exterior.coords), tags, closed=True)
            return
        members = []
        for polygon in polygons:
            members.append(("outer", self.add_way(np.asarray(polygon.exterior.coords), {}, True)))
            members += [
                ("inner", self.add_way(np.asarray(r.coords), {}, True)) for r in polygon.interiors
            ]
        relation_id = FIRST_RELATION_ID + len(self.relations)
        lines = "".join(
            f'    <member type="way" ref="{ref}" role="{role}"/>\n' for role, ref in members
        )
        rel_tags = self.tag_lines({"type": "multipolygon", **tags})
        self.relations.append(
            f'  <relation id="{relation_id}" {self.meta()}>\n{lines}{rel_tags}  </relation>\n'
        )

    def add(self, feature: Feature) -> None:
        geometry = feature.geometry
        if isinstance(geometry, LineString):
            self.add_way(np.asarray(geometry.coords), feature.tags, closed=False)
        elif isinstance(geometry, Polygon):
            self.add_polygons([geometry], feature.tags)
        elif isinstance(geometry, MultiPolygon):
            self.add_polygons(list(geometry.geoms), feature.tags)
        else:
            raise TypeError(f"cannot write {geometry.geom_type} to OSM")

    def text(self) -> str:
        node_lines = [
            f'  <node id="{FIRST_NODE_ID + k}" {self.meta()} lat="{lat:.7f}" lon="{lon:.7f}"/>\n'
            for k, (lon, lat) in enumerate(zip(self.lon, self.lat, strict=True))
        ]
        bounds = (
            f'  <bounds minlat="{min(self.lat):.7f}" minlon="{min(self.lon):.7f}" '
            f'maxlat="{max(self.lat):.7f}" maxlon="{max(self.lon):.7f}"/>\n'
        )
        head = (
            "<?xml version='1.0' encoding='UTF-8'?>\n"
            '<osm version="0.6" generator="rsvl synthetic region" '
            'copyright="synthetic, generated by rsvl; no licence restrictions (CC0)">\n'
        )
        return (
            head
            + bounds
            + "".join(node_lines)
            + "".join(self.ways)
            + "".join(self.relations)
            + "</osm>\n"
        )


def write_osm(features: list[Feature], path: str | Path, seed: int, crs: str) -> None:
    """Write ``features`` (in ``crs``) to ``path`` as OSM XML 0.6, atomically.

    Args:
        features: the region's features; their tags are written as they are.
        path: output ``.osm`` file.
        seed: seed of the element versions, timestamps and changesets.
        crs: CRS of the feature geometries.
    """
    writer = _Writer(seed, crs)
    for feature in features:
        writer.add(feature)
    with atomic_open(path, "w") as handle:
        handle.write(writer.text())
