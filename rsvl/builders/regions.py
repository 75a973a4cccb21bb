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

Shards carry the list as a ``regions.json`` member per sample and the Parquet copy as a
``regions`` column (JSON text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rsvl.data.masks import encode_mask

MIN_REGION_PX = 16  # fewer visible pixels: a sliver, not a region
REGIONS_MEMBER = "regions.json"


def chip_regions(bounds: Sequence[float], shape: tuple[int, int],
                 objects: Sequence[tuple[str, Mapping[str, str]]],
                 geometries: Mapping[str, Any],
                 min_px: int = MIN_REGION_PX) -> list[dict[str, Any]]:
    """The region-text pairs of one chip.

    Args:
        bounds: The chip footprint ``(minx, miny, maxx, maxy)`` in the geometries' CRS.
        shape: The chip's ``(height, width)`` in pixels.
        objects: ``(osm_id, tags)`` of the objects in the chip (focus first).
        geometries: ``osm_id -> shapely geometry`` (the chip's CRS); ids without one are skipped.
        min_px: Smallest visible area kept, in pixels.
    """
    import rasterio
    import shapely
    from rasterio.features import rasterize
    from rasterio.transform import from_bounds

    height, width = shape
    transform = from_bounds(*bounds, width, height)
    frame = shapely.box(*bounds)
    regions: list[dict[str, Any]] = []
    # One GDAL environment for the chip: rasterize() outside one sets up and tears down its
    # own per call, which cost more than the rasterisation itself (bench/build_chips.py).
    with rasterio.Env():
        for osm_id, tags in objects:
            region = _region(osm_id, tags, geometries.get(osm_id), shape, transform, frame,
                             min_px, rasterize)
            if region is not None:
                regions.append(region)
    regions.sort(key=lambda r: (-r["area_px"], r["osm_id"]))
    return regions


def _region(osm_id: str, tags: Mapping[str, str], geometry: Any, shape: tuple[int, int],
            transform: Any, frame: Any, min_px: int, rasterize: Any) -> dict[str, Any] | None:
    """One object's region (see :func:`chip_regions`), or None when it shows too little."""
    from rsvl.osm.tags import describe_parts

    parts = describe_parts(dict(tags))
    if geometry is None or geometry.is_empty or parts is None:
        return None
    lines = geometry.geom_type in ("LineString", "MultiLineString")
    mask = rasterize([(geometry, 1)], out_shape=shape, transform=transform,
                     all_touched=lines, dtype="uint8").astype(bool)
    area = int(mask.sum())
    if area < min_px:
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return {
        "osm_id": osm_id, "phrase": parts.text, "noun": parts.noun, "tags": dict(tags),
        "box": [x0, y0, x1, y1], "area_px": area, "truncated": not frame.contains(geometry),
        "mask": encode_mask(mask[y0:y1, x0:x1]),
    }


def regions_json(extra: Mapping[str, Any]) -> str | None:
    """A record's region-text pairs as JSON text (the Parquet column), None without them."""
    regions = extra.get("regions")
    return None if regions is None else json.dumps(regions, ensure_ascii=False)
