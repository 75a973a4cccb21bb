"""Urban blocks: the block's land use, its extras (parking, pitches, stadium, service road) and
buildings on a grid of lots, as described by the block types in ``blocks.json``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon, box
from shapely.geometry.base import BaseGeometry

from rsvl.synth.classes import get_class
from rsvl.synth.scene import Feature, class_feature

BLOCKS_FILE = Path(__file__).with_name("blocks.json")
ROOF_VARIANTS: dict[str, int] = {"flat": 0, "gabled": 1, "hipped": 2}
STOREY_M = 3.0


@lru_cache(maxsize=1)
def _blocks() -> dict[str, Any]:
    return json.loads(BLOCKS_FILE.read_text(encoding="utf-8"))


def list_block_types() -> list[str]:
    """Names of the urban block types (``houses``, ``retail``, ...)."""
    return sorted(_blocks()["blocks"])


def _rect(centre: tuple[float, float], length: float, width: float, angle: float) -> Polygon:
    """A rectangle of ``length`` along ``angle`` and ``width`` across it."""
    shape = affinity.rotate(
        box(-length / 2, -width / 2, length / 2, width / 2), angle, origin=(0, 0), use_radians=True
    )
    return affinity.translate(shape, *centre)


def _fit(
    rng: np.random.Generator,
    room: BaseGeometry,
    angle: float,
    length: float,
    width: float,
    keepout: BaseGeometry,
) -> Polygon | None:
    """A rectangle as large as possible (up to ``length`` x ``width``) inside ``room``."""
    if room.is_empty:
        return None
    centre = room.centroid
    local = affinity.rotate(room, -angle, origin=centre, use_radians=True)
    minx, miny, maxx, maxy = local.bounds
    for attempt in range(10):
        scale = 0.85**attempt
        lu, lv = length * scale, width * scale
        spare_u, spare_v = max(maxx - minx - lu, 0.0), max(maxy - miny - lv, 0.0)
        u = minx + lu / 2 + spare_u * rng.uniform(0.2, 0.8)
        v = miny + lv / 2 + spare_v * rng.uniform(0.2, 0.8)
        rect = affinity.rotate(
            box(u - lu / 2, v - lv / 2, u + lu / 2, v + lv / 2),
            angle,
            origin=centre,
            use_radians=True,
        )
        if room.contains(rect) and not rect.intersects(keepout):
            return rect
    return None


def _rect_extra(
    cls: str,
    rng: np.random.Generator,
    room: BaseGeometry,
    angle: float,
    shape: tuple[float, float],
    keepout: BaseGeometry,
    **tags: str,
) -> list[Feature]:
    """One rectangular feature of class ``cls`` fitted into the block, or nothing."""
    rect = _fit(rng, room, angle, shape[0], shape[1], keepout)
    return [] if rect is None else [class_feature(cls, rect, angle, **tags)]


def _parking(
    rng: np.random.Generator, room: BaseGeometry, angle: float, size: float, keepout: BaseGeometry
) -> list[Feature]:
    shape = (min(0.7 * size, 90.0), min(0.35 * size, 40.0))
    return _rect_extra(
        "parking", rng, room, angle, shape, keepout, parking="surface", surface="asphalt"
    )


def _pitch(
    rng: np.random.Generator, room: BaseGeometry, angle: float, size: float, keepout: BaseGeometry
) -> list[Feature]:
    shape = (min(105.0, 0.8 * size), min(68.0, 0.52 * size))
    return _rect_extra("pitch", rng, room, angle, shape, keepout, sport="soccer", surface="grass")


def _stadium(
    rng: np.random.Generator, room: BaseGeometry, angle: float, size: float, keepout: BaseGeometry
) -> list[Feature]:
    outer = _fit(rng, room, angle, min(190.0, 0.9 * size), min(140.0, 0.66 * size), keepout)
    if outer is None:
        return []
    c = outer.centroid
    length = math.dist(outer.exterior.coords[0], outer.exterior.coords[1])
    width = math.dist(outer.exterior.coords[1], outer.exterior.coords[2])
    radius = 0.45 * width / 2
    rounded = _rect((c.x, c.y), length - 2 * radius, width - 2 * radius, angle).buffer(radius, 8)
    field = _rect((c.x, c.y), 0.5 * length, 0.38 * width, angle)
    return [
        class_feature("stadium", rounded, angle),
        class_feature("pitch", field, angle, sport="soccer", surface="grass"),
    ]


def _service_road(
    rng: np.random.Generator, room: BaseGeometry, angle: float, size: float, keepout: BaseGeometry
) -> list[Feature]:
    c = room.centroid
    reach = size / 2 + 10.0
    end = (c.x + reach * math.cos(angle + math.pi / 2), c.y + reach * math.sin(angle + math.pi / 2))
    line = LineString([(c.x, c.y), end])
    return [class_feature("service_road", line, surface="asphalt", service="driveway")]


EXTRAS: dict[str, Callable[..., list[Feature]]] = {
    "parking": _parking,
    "pitch": _pitch,
    "stadium": _stadium,
    "service_road": _service_road,
}


def _buildings(
    rng: np.random.Generator, spec: Mapping[str, Any], room: BaseGeometry, angle: float
) -> list[Feature]:
    """Buildings on a grid of lots aligned with the block, each wholly inside ``room``."""
    if room.is_empty:
        return []
    shapely.prepare(room)
    centre = room.centroid
    local = affinity.rotate(room, -angle, origin=centre, use_radians=True)
    minx, miny, maxx, maxy = local.bounds
    lot_u, lot_v = spec["lot_m"]
    roofs = list(spec["roofs"])
    roof_p = np.array([spec["roofs"][r] for r in roofs], dtype=float)
    cos, sin = math.cos(angle), math.sin(angle)
    land_class = get_class(spec["class"])
    out = []
    for u in np.arange(minx + lot_u / 2, maxx, lot_u):
        for v in np.arange(miny + lot_v / 2, maxy, lot_v):
            width = rng.uniform(*spec["width_m"])
            depth = min(rng.uniform(*spec["depth_m"]), width)
            du = u + rng.uniform(-0.25, 0.25) * max(lot_u - width, 0.0)
            dv = v + rng.uniform(-0.25, 0.25) * max(lot_v - depth, 0.0)
            # back from the block-aligned frame (rotated about the centre) to the CRS
            x = centre.x + (du - centre.x) * cos - (dv - centre.y) * sin
            y = centre.y + (du - centre.x) * sin + (dv - centre.y) * cos
            footprint = _rect((x, y), width, depth, angle)
            if not room.contains(footprint):
                continue
            roof = str(rng.choice(roofs, p=roof_p / roof_p.sum()))
            levels = int(rng.integers(spec["levels"][0], spec["levels"][1] + 1))
            tags = {**land_class.osm_tags, "building:levels": str(levels), "roof:shape": roof}
            height = levels * STOREY_M + (2.5 if roof != "flat" else 0.5)
            out.append(
                Feature(
                    footprint,
                    land_class.name,
                    tags,
                    angle=angle,
                    variant=ROOF_VARIANTS[roof],
                    height_m=height,
                )
            )
    return out


def urban_block(
    rng: np.random.Generator, role: str, block: Polygon, angle: float, keepout: BaseGeometry
) -> list[Feature]:
    """The features of one urban block of type ``role`` (a key of ``blocks.json``).

    Args:
        rng: source of randomness.
        role: block type.
        block: the block's outline (roads run along its edges).
        angle: direction of the block's long axis (radians).
        keepout: areas no extra or building may touch (river, railway).
    """
    spec = _blocks()["blocks"][role]
    features = [class_feature(spec["landuse"], block, angle)]
    room = block.buffer(-_blocks()["setback_m"]).difference(keepout)
    size = math.sqrt(max(room.area, 0.0))
    taken: BaseGeometry = keepout
    for extra in spec["extras"]:
        placed = EXTRAS[extra](rng, room, angle, size, taken)
        for feature in placed:
            taken = taken.union(feature.geometry.buffer(6.0))
        features.extend(placed)
    if "building" in spec:
        features.extend(_buildings(rng, spec["building"], room.difference(taken), angle))
    return features
