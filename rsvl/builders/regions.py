"""Region-text pairs: the OSM objects visible in a chip, each with its mask, box and phrase.

Every caption-build chip lists the objects it shows (its focus object and the features around
it) as ``record.extra["regions"]``: per object its ``osm_id``, ``phrase`` (the captions' noun
phrase, :func:`rsvl.osm.describe`: "a flat-roofed apartment building"'s words), ``noun`` (its
head noun: ``apartment building``), ``tags``, pixel ``box`` ``[x0, y0, x1, y1]`` (end
exclusive) of its visible part, ``area_px``, ``truncated`` (the chip edge cuts it) and ``mask``:
the OSM geometry rasterised at the chip's own grid (``rasterio.features.rasterize`` with the
chip's transform, pixel centres inside the polygon; lines burn the pixels they touch), cropped
to the box, as base64 of a 1-bit PNG (:func:`rsvl.data.masks.encode_mask`;
:func:`rsvl.data.masks.region_mask` restores the chip-size mask). Objects showing fewer than
:data:`MIN_REGION_PX` pixels are dropped (slivers along the edge, points). Regions are listed
largest first, so painting them in order leaves a house over the residential area around it.

Speed: up to 32 polygons share one GDAL call (MergeAlg.add into a uint32 chip, one bit per
polygon part), which burns exactly the pixels one call per polygon burns; so do up to 32 lines
(all_touched: GDAL adds a line's value once per pixel it touches, as replace mode burns it).
The polygons for which that does not hold (see :func:`_burn_alone`) keep a call of their own.

Shards carry the list as a ``regions.json`` member per sample and the Parquet copy as a
``regions`` column (JSON text).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from rsvl.data.masks import encode_mask

MIN_REGION_PX = 16  # fewer visible pixels: a sliver, not a region

_BITS = 32  # polygon parts burnt per GDAL call: one bit each of a uint32 chip
# GDAL's pixel coordinates and ours differ by far less than this (pixels): the tolerance of the
# checks below that only choose the slower exact path, never the result.
_TOLERANCE_PX = 1e-4


@dataclass(frozen=True)
class _Shape:
    """One feature as rasterize() takes it, converted once per partition."""

    geometry: Any
    geojson: dict[str, Any]
    lines: bool  # burns the pixels it touches (all_touched)
    # What rasterize() hands GDAL for it: MultiPolygons and collections part by part, nothing
    # for a geometry it would skip as invalid.
    burnt: list[dict[str, Any]]
    bounds: tuple[float, float, float, float]
    # The feature's polygon parts when it may share a GDAL call (see _burn_alone), else None.
    parts: list[dict[str, Any]] | None
    # |dy| and y of its ring edges, flattest first: for the horizontal-edge check.
    edge_dy: np.ndarray
    edge_y: np.ndarray


class _Owner(NamedTuple):
    """An object of a chip and its bits in the rasterize() output it was burnt into."""

    osm_id: str
    tags: Mapping[str, str]
    described: Any  # its rsvl.osm.tags.Description
    feature: _Shape
    bits: int


class RegionShapes(Mapping[str, Any]):
    """``osm_id -> shapely geometry`` of a partition's features, each converted for
    rasterisation once however many chips show it (a plain mapping works too, converted per
    call)."""

    def __init__(self, geometries: Mapping[str, Any]):
        self._geometries = geometries
        self._shapes: dict[str, _Shape | None] = {}

    def __getitem__(self, osm_id: str) -> Any:
        return self._geometries[osm_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._geometries)

    def __len__(self) -> int:
        return len(self._geometries)

    def shape(self, osm_id: str) -> _Shape | None:
        """The feature ready to burn, or None without a (non-empty) geometry."""
        if osm_id not in self._shapes:
            geometry = self._geometries.get(osm_id)
            self._shapes[osm_id] = (None if geometry is None or geometry.is_empty
                                    else _shape(geometry))
        return self._shapes[osm_id]


def _shape(geometry: Any) -> _Shape:
    from rasterio.features import is_valid_geom

    geojson = geometry.__geo_interface__
    kind = geojson["type"]
    parts = None
    dy, y = np.zeros(0), np.zeros(0)
    if kind in ("Polygon", "MultiPolygon", "LineString", "MultiLineString"):
        single = kind.removeprefix("Multi")
        members = [geojson["coordinates"]] if kind == single else geojson["coordinates"]
        # rasterize() burns a MultiPolygon part by part: each part gets its own bit (and so
        # does each line of a MultiLineString).
        parts = [{"type": single, "coordinates": p} for p in members]
        if not (is_valid_geom(geojson) and all(is_valid_geom(p) for p in parts)):
            parts = None  # rasterio would skip it (or part of it): keep its own call
    if parts is not None and kind.endswith("Polygon"):
        ys = [np.asarray(ring, dtype=np.float64)[:, 1] for p in parts
              for ring in p["coordinates"]]
        dy = np.concatenate([np.abs(np.diff(r)) for r in ys])
        y = np.concatenate([r[1:] for r in ys])
        order = np.argsort(dy, kind="stable")
        dy, y = dy[order], y[order]
    return _Shape(geometry, geojson, kind in ("LineString", "MultiLineString"),
                  _gdal_parts(geojson), tuple(geometry.bounds), parts, dy, y)


def _gdal_parts(geojson: dict[str, Any]) -> list[dict[str, Any]]:
    """The geometries ``rasterio.features.rasterize`` burns for ``geojson`` (1.4: a valid
    MultiPolygon or GeometryCollection one part at a time, an invalid one not at all)."""
    from rasterio.features import is_valid_geom

    if not is_valid_geom(geojson):
        return []
    if geojson["type"] == "GeometryCollection":
        return list(geojson["geometries"])
    if geojson["type"] == "MultiPolygon":
        return [{"type": "Polygon", "coordinates": p} for p in geojson["coordinates"]]
    return [geojson]


def _burn(pairs: list[tuple[dict[str, Any], int]], shape: tuple[int, int], transform: Any,
          all_touched: bool, dtype: Any, merge_alg: Any) -> np.ndarray:
    """``rasterize(pairs, ...)`` of geometries already checked and split as it would: its
    per-call checks and GDAL environment set-up cost more than burning a chip's few shapes
    (bench/build_chips.py), so GDAL's burner is called directly; tests hold the two equal."""
    from rasterio._features import _rasterize

    out = np.zeros(shape, dtype=dtype)
    if pairs:
        _rasterize(pairs, out, transform, all_touched, merge_alg)
    return out


def chip_regions(bounds: Sequence[float], shape: tuple[int, int],
                 objects: Sequence[tuple[str, Mapping[str, str]]],
                 geometries: Mapping[str, Any],
                 min_px: int = MIN_REGION_PX) -> list[dict[str, Any]]:
    """The region-text pairs of one chip.

    Args:
        bounds: The chip footprint ``(minx, miny, maxx, maxy)`` in the geometries' CRS.
        shape: The chip's ``(height, width)`` in pixels.
        objects: ``(osm_id, tags)`` of the objects in the chip (focus first).
        geometries: ``osm_id -> shapely geometry`` (the chip's CRS); ids without one are
            skipped. A :class:`RegionShapes` shared by the chips of a partition converts each
            feature once.
        min_px: Smallest visible area kept, in pixels.
    """
    import rasterio
    from rasterio.features import MergeAlg
    from rasterio.transform import from_bounds

    from rsvl.osm.tags import describe_parts

    shapes = geometries if isinstance(geometries, RegionShapes) else RegionShapes(geometries)
    height, width = shape
    transform = from_bounds(*bounds, width, height)
    grid = _Grid(bounds, shape, transform.a, -transform.e)
    alone: list[_Owner] = []
    shared: list[_Owner] = []
    for osm_id, tags in objects:
        described = describe_parts(dict(tags))
        feature = shapes.shape(osm_id)
        if feature is not None and described is not None:
            owner = _Owner(osm_id, tags, described, feature, 1)
            (alone if _burn_alone(feature, grid) else shared).append(owner)
    burnt: list[tuple[np.ndarray, list[_Owner]]] = []
    # One GDAL environment for the chip: rasterize() outside one sets up and tears down its
    # own per call, which cost more than the rasterisation itself (bench/build_chips.py).
    with rasterio.Env():
        for owner in alone:
            burnt.append((_burn([(part, 1) for part in owner.feature.burnt], shape, transform,
                                owner.feature.lines, np.uint8, MergeAlg.replace), [owner]))
        for lines in (False, True):  # all_touched is per call: lines apart
            for owners in _pack([owner for owner in shared if owner.feature.lines == lines]):
                pairs = [(part, 1 << bit) for bit, part in enumerate(
                    part for owner in owners for part in owner.feature.parts or ())]
                burnt.append((_burn(pairs, shape, transform, lines, np.uint32, MergeAlg.add),
                              owners))
    regions = [region for buffer, owners in burnt
               for region in _regions(buffer, owners, grid, min_px)]
    regions.sort(key=lambda r: (-r["area_px"], r["osm_id"]))
    return regions


@dataclass(frozen=True)
class _Grid:
    """A chip's footprint and pixel size (the transform from_bounds gives)."""

    bounds: Sequence[float]
    shape: tuple[int, int]
    xres: float
    yres: float

    def window(self, bounds: Sequence[float]) -> tuple[int, int, int, int]:
        """``(r0, r1, c0, c1)``: the chip pixels a geometry with these bounds can burn, one
        pixel wider each side than its bounds (cut to the chip)."""
        left, top = self.bounds[0], self.bounds[3]
        height, width = self.shape
        return (max(0, math.floor((top - bounds[3]) / self.yres) - 1),
                min(height, math.ceil((top - bounds[1]) / self.yres) + 2),
                max(0, math.floor((bounds[0] - left) / self.xres) - 1),
                min(width, math.ceil((bounds[2] - left) / self.xres) + 2))


def _burn_alone(feature: _Shape, grid: _Grid) -> bool:
    """Whether the feature needs its own rasterize() call to burn as it does alone.

    Polygons share calls with MergeAlg.add, one bit per part: GDAL then adds the burn value
    once per pixel whose centre a part covers, as replace mode sets it, except along a
    horizontal edge lying exactly on a row of pixel centres (GDAL's add mode burns those edges
    differently to avoid double counts). Such polygons, other types and features rasterio would
    not take whole burn alone. Lines share calls of their own (all_touched): their pixels are
    the same in add mode, each burnt once, at any alignment (tests/builders/test_regions.py).
    """
    if feature.parts is None or len(feature.parts) > _BITS:
        return True
    if feature.lines:
        return False
    flat = _TOLERANCE_PX * grid.yres
    if feature.edge_dy[0] >= flat:
        return False
    rows = (grid.bounds[3] - feature.edge_y[:int(np.searchsorted(feature.edge_dy, flat))]
            ) / grid.yres - 0.5
    return bool((np.abs(rows - np.round(rows)) < _TOLERANCE_PX).any())


def _pack(owners: list[_Owner]) -> Iterator[list[_Owner]]:
    """The owners in groups of at most :data:`_BITS` polygon parts, each with the bits of its
    parts (numbered in order through the group)."""
    group: list[_Owner] = []
    used = 0
    for owner in owners:
        count = len(owner.feature.parts or ())
        if used + count > _BITS:
            yield group
            group, used = [], 0
        group.append(owner._replace(bits=((1 << count) - 1) << used))
        used += count
    if group:
        yield group


def _regions(buffer: np.ndarray, owners: list[_Owner], grid: _Grid,
             min_px: int) -> Iterator[dict[str, Any]]:
    """The regions of one rasterize() call's owners (those showing at least ``min_px``)."""
    windows = [grid.window(owner.feature.bounds) for owner in owners]
    # The windows are only a shortcut: if any burnt bit lies outside its owner's window, read
    # the whole chip instead.
    rest = buffer.copy()
    for owner, (r0, r1, c0, c1) in zip(owners, windows, strict=True):
        rest[r0:r1, c0:c1] &= ~np.array(owner.bits, dtype=buffer.dtype)
    if rest.any():
        windows = [(0, grid.shape[0], 0, grid.shape[1])] * len(owners)
    for owner, (r0, r1, c0, c1) in zip(owners, windows, strict=True):
        mask = (buffer[r0:r1, c0:c1] & owner.bits) != 0
        area = int(np.count_nonzero(mask))
        if area < min_px:
            continue
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        yield {
            "osm_id": owner.osm_id, "phrase": owner.described.text,
            "noun": owner.described.noun, "tags": dict(owner.tags),
            "box": [x0 + c0, y0 + r0, x1 + c0, y1 + r0], "area_px": area,
            "truncated": _truncated(owner.feature, grid.bounds),
            "mask": encode_mask(mask[y0:y1, x0:x1]),
        }


def _truncated(feature: _Shape, bounds: Sequence[float]) -> bool:
    """Whether the chip edge cuts the feature (``not box(*bounds).contains(geometry)``),
    from the bounds unless they touch the chip's edge."""
    minx, miny, maxx, maxy = feature.bounds
    if minx > bounds[0] and miny > bounds[1] and maxx < bounds[2] and maxy < bounds[3]:
        return False
    if minx < bounds[0] or miny < bounds[1] or maxx > bounds[2] or maxy > bounds[3]:
        return True
    import shapely

    return not shapely.box(*bounds).contains(feature.geometry)


def regions_json(extra: Mapping[str, Any]) -> str | None:
    """A record's region-text pairs as JSON text (the Parquet column), None without them."""
    regions = extra.get("regions")
    return None if regions is None else json.dumps(regions, ensure_ascii=False)
