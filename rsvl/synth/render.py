"""Render the region's features into an RGB orthophoto and a class raster on the same grid.

Features are burnt into a feature-id raster in painting order (class ``z``, then feature order),
so where features overlap the higher class wins, exactly as ``classes.tif`` records. Lines are
burnt as their buffer (``width_m`` of the class, round caps and joins), and each of their
segments also goes into a segment raster giving pixels along the line a local frame for lane
markings, sleepers and ruts. Every pixel is then coloured by its class's texture in its
feature's frame; buildings cast shadows; an irregular no-data margin is cut along the edges.
"""

from __future__ import annotations

import math

import numpy as np
from rasterio import features as rio_features
from shapely import affinity
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from rsvl.synth.classes import LandClass, get_class, list_classes
from rsvl.synth.noise import value_noise
from rsvl.synth.scene import Feature, RegionGrid
from rsvl.synth.textures import Pixels, render_texture

NODATA_CLASS = "nodata"
GROUND_CLASS = "ground"
SHADOW_FACTOR = 0.55
SHADOW_DIRECTION = np.array([0.6, -0.8])  # shadows fall away from the north-west sun
SHADOW_PER_M = 0.7  # shadow length per metre of building height (sun about 55 degrees up)


def footprint(feature: Feature) -> BaseGeometry:
    """The area a feature covers in the rendering (lines buffered to their class's width)."""
    land_class = get_class(feature.cls)
    if land_class.kind == "line":
        return feature.geometry.buffer(land_class.width_m / 2)
    return feature.geometry


def painting_order(features: list[Feature]) -> list[int]:
    """Indices of the rendered features from the lowest ``z`` to the highest (stable)."""
    drawn = [k for k, f in enumerate(features) if f.cls]
    return sorted(drawn, key=lambda k: get_class(features[k].cls).z)


def _frames(features: list[Feature], order: list[int]) -> dict[str, np.ndarray]:
    """Per-feature frame arrays indexed by feature id (1-based painting rank; 0 = none)."""
    count = len(order) + 1
    frame = {name: np.zeros(count, np.float64) for name in ("cx", "cy", "cos", "sin", "a", "b")}
    frame["cos"][0] = 1.0
    frame["variant"] = np.zeros(count, np.int64)
    for fid, k in enumerate(order, start=1):
        feature = features[k]
        land_class = get_class(feature.cls)
        c = feature.geometry.centroid
        local = affinity.rotate(feature.geometry, -feature.angle, origin=c, use_radians=True)
        minx, miny, maxx, maxy = local.bounds
        mid_u, mid_v = (minx + maxx) / 2 - c.x, (miny + maxy) / 2 - c.y
        cos, sin = math.cos(feature.angle), math.sin(feature.angle)
        frame["cx"][fid] = c.x + mid_u * cos - mid_v * sin
        frame["cy"][fid] = c.y + mid_u * sin + mid_v * cos
        frame["cos"][fid], frame["sin"][fid] = cos, sin
        frame["a"][fid] = (maxx - minx) / 2
        frame["b"][fid] = land_class.width_m / 2 if land_class.kind == "line" else (maxy - miny) / 2
        frame["variant"][fid] = feature.variant
    return frame


def _segments(features: list[Feature], order: list[int]) -> tuple[list, dict[str, np.ndarray]]:
    """Flat-capped rectangles of every line segment, with their start, direction and owner."""
    shapes: list[tuple[BaseGeometry, int]] = []
    starts: list[np.ndarray] = []
    angles: list[float] = []
    owners: list[int] = []
    for fid, k in enumerate(order, start=1):
        feature = features[k]
        land_class = get_class(feature.cls)
        if land_class.kind != "line":
            continue
        coords = np.asarray(feature.geometry.coords)
        for p, q in zip(coords[:-1], coords[1:], strict=True):
            segment = LineString([p, q]).buffer(land_class.width_m / 2, cap_style="flat")
            shapes.append((segment, len(owners) + 1))
            starts.append(p)
            angles.append(math.atan2(q[1] - p[1], q[0] - p[0]))
            owners.append(fid)
    table = {
        "ox": np.concatenate([[0.0], np.asarray(starts, float).reshape(-1, 2)[:, 0]]),
        "oy": np.concatenate([[0.0], np.asarray(starts, float).reshape(-1, 2)[:, 1]]),
        "angle": np.concatenate([[0.0], np.asarray(angles, float)]),
        "owner": np.concatenate([[0], np.asarray(owners, np.int64)]).astype(np.int64),
    }
    return shapes, table


def _burn(shapes: list, grid: RegionGrid) -> np.ndarray:
    if not shapes:
        return np.zeros((grid.height, grid.width), np.int32)
    return rio_features.rasterize(
        shapes, out_shape=(grid.height, grid.width), transform=grid.transform, fill=0, dtype="int32"
    )


def valid_mask(rng: np.random.Generator, grid: RegionGrid) -> np.ndarray:
    """True where the orthophoto has data: an irregular margin is cut along every edge.

    Real orthophoto mosaics end in ragged no-data edges; the margin depth wanders smoothly
    along each side, between zero and a few percent of the width (at least one side deep).
    """
    h, w = grid.height, grid.width
    depths = rng.uniform(0.0, 0.05, 4)
    depths[int(rng.integers(0, 4))] = rng.uniform(0.03, 0.06)
    mask = np.ones((h, w), bool)
    rows, cols = np.arange(h), np.arange(w)
    for side, depth in enumerate(depths):
        knots = rng.uniform(0.0, 1.0, 9)
        length = h if side in (0, 1) else w
        profile = np.interp(np.arange(length), np.linspace(0, length - 1, 9), knots) * depth * w
        if side == 0:
            mask &= cols[None, :] >= profile[:, None]
        elif side == 1:
            mask &= cols[None, :] < w - profile[:, None]
        elif side == 2:
            mask &= rows[:, None] >= profile[None, :]
        else:
            mask &= rows[:, None] < h - profile[None, :]
    return mask


def _shadows(features: list[Feature], grid: RegionGrid) -> np.ndarray:
    shapes = []
    for feature in features:
        if feature.height_m <= 0:
            continue
        shift = SHADOW_DIRECTION * feature.height_m * SHADOW_PER_M
        moved = affinity.translate(feature.geometry, shift[0], shift[1])
        shapes.append((feature.geometry.union(moved).convex_hull, 1))
    return _burn(shapes, grid).astype(bool)


def render(features: list[Feature], grid: RegionGrid, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise and texture the features.

    Args:
        features: the region's features (``layout_region``), in the grid's CRS.
        grid: the output grid.
        seed: seed of the noise fields and the no-data margin.

    Returns:
        ``(rgb, classes)``: uint8 arrays of shape (3, rows, cols) and (rows, cols); pixels
        outside the valid area are 0 in both (RGB 0 never occurs inside it).
    """
    rng = np.random.default_rng([seed, 104729])
    order = painting_order(features)
    fid = _burn([(footprint(features[k]), n) for n, k in enumerate(order, start=1)], grid)
    seg_shapes, seg = _segments(features, order)
    seg_id = _burn(seg_shapes, grid)
    class_of_fid = np.array(
        [get_class(GROUND_CLASS).id] + [get_class(features[k].cls).id for k in order], np.uint8
    )
    classes = class_of_fid[fid]
    valid = valid_mask(rng, grid)
    classes[~valid] = get_class(NODATA_CLASS).id

    frame = _frames(features, order)
    rand = rng.uniform(0.0, 1.0, len(order) + 1)
    scale = 1.0 / grid.gsd_m
    lo = value_noise(rng, classes.shape, 40.0 * scale).ravel()
    mid = value_noise(rng, classes.shape, 5.0 * scale, octaves=2).ravel()
    hi = rng.standard_normal(classes.size).astype(np.float32)

    rgb = np.zeros((classes.size, 3), np.float32)
    flat_classes, flat_fid, flat_seg = classes.ravel(), fid.ravel(), seg_id.ravel()
    by_id: dict[int, LandClass] = {c.id: c for c in list_classes()}
    # One stable sort groups the pixels by class: cheaper than a mask per class.
    by_class = np.argsort(flat_classes, kind="stable")
    counts = np.bincount(flat_classes, minlength=len(by_id))
    ends = np.cumsum(counts)
    for class_id, land_class in by_id.items():
        index = by_class[ends[class_id] - counts[class_id] : ends[class_id]]
        if index.size == 0:
            continue
        pixels = _pixels(
            index, flat_fid[index], flat_seg[index], frame, seg, rand, grid, lo, mid, hi
        )
        rgb[index] = render_texture(pixels, land_class.look)

    shadow = _shadows(features, grid).ravel()
    building_ids = [c.id for c in list_classes() if c.kind == "building"]
    rgb[shadow & ~np.isin(flat_classes, building_ids)] *= SHADOW_FACTOR
    cast = 1.0 + 0.025 * lo[:, None] * np.array([1.0, 0.6, -0.4], np.float32)
    rgb = np.clip(np.rint(rgb * cast), 1, 255).astype(np.uint8)
    rgb[~valid.ravel()] = 0
    return rgb.T.reshape(3, grid.height, grid.width), classes


def _pixels(
    index: np.ndarray,
    fid: np.ndarray,
    seg_id: np.ndarray,
    frame: dict[str, np.ndarray],
    seg: dict[str, np.ndarray],
    rand: np.ndarray,
    grid: RegionGrid,
    lo: np.ndarray,
    mid: np.ndarray,
    hi: np.ndarray,
) -> Pixels:
    """Texture inputs of the pixels at flat ``index``: local frame, feature values, noise."""
    row, col = np.divmod(index, grid.width)
    x = grid.west + (col + 0.5) * grid.gsd_m
    y = grid.north - (row + 0.5) * grid.gsd_m
    cos, sin = frame["cos"][fid], frame["sin"][fid]
    dx, dy = x - frame["cx"][fid], y - frame["cy"][fid]
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    framed = (seg_id > 0) & (seg["owner"][seg_id] == fid)
    seg_cos, seg_sin = np.cos(seg["angle"][seg_id]), np.sin(seg["angle"][seg_id])
    sx, sy = x - seg["ox"][seg_id], y - seg["oy"][seg_id]
    u = np.where(framed, sx * seg_cos + sy * seg_sin, u)
    v = np.where(framed, -sx * seg_sin + sy * seg_cos, v)
    return Pixels(
        u=u.astype(np.float32),
        v=v.astype(np.float32),
        cos=np.where(framed, seg_cos, cos).astype(np.float32),
        sin=np.where(framed, seg_sin, sin).astype(np.float32),
        a=frame["a"][fid].astype(np.float32),
        b=frame["b"][fid].astype(np.float32),
        rand=rand[fid].astype(np.float32),
        variant=frame["variant"][fid],
        fid=fid,
        framed=framed.astype(np.float32),
        lo=lo[index],
        mid=mid[index],
        hi=hi[index],
        gsd_m=grid.gsd_m,
    )
