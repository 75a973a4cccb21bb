"""Rendering: features read back from the .osm line up with classes.tif; the margin is no-data."""

from __future__ import annotations

import numpy as np
import osmnx
import rasterio
from rasterio import features as rio_features
from scipy import ndimage

from rsvl.synth import RegionInfo, class_for_tags
from rsvl.synth.render import valid_mask
from rsvl.synth.scene import RegionGrid

READ_TAGS = {
    key: True
    for key in (
        "landuse",
        "natural",
        "leisure",
        "building",
        "highway",
        "aeroway",
        "amenity",
        "railway",
    )
}


def _rasterise_osm(region: RegionInfo) -> np.ndarray:
    """Class raster rebuilt from the OSM file alone, painted in the registry's z order."""
    gdf = osmnx.features_from_xml(region.osm_path, tags=READ_TAGS).to_crs(region.crs)
    shapes = []
    for _, row in gdf.iterrows():
        tags = {k: v for k, v in row.items() if k != "geometry" and isinstance(v, str)}
        land_class = class_for_tags(tags)
        if land_class is None:
            continue
        geometry = row.geometry
        if land_class.kind == "line":
            geometry = geometry.buffer(land_class.width_m / 2)
        shapes.append((land_class.z, geometry, land_class.id))
    shapes.sort(key=lambda s: s[0])
    with rasterio.open(region.classes_path) as src:
        return rio_features.rasterize(
            [(g, c) for _, g, c in shapes],
            out_shape=src.shape,
            transform=src.transform,
            fill=1,
            dtype="uint8",
        )


def test_osm_features_align_with_class_raster(small_region: RegionInfo) -> None:
    with rasterio.open(small_region.classes_path) as src:
        truth = src.read(1)
    rebuilt = _rasterise_osm(small_region)
    # Interiors: pixels whose 3x3 neighbourhood holds one class (edges may go either way).
    uniform = (ndimage.maximum_filter(truth, 3) == ndimage.minimum_filter(truth, 3)) & (truth > 0)
    agreement = float((rebuilt[uniform] == truth[uniform]).mean())
    assert uniform.sum() > 0.5 * truth.size
    assert agreement > 0.99, agreement


def test_alignment_check_fails_when_features_shift(small_region: RegionInfo) -> None:
    """The alignment measure is sensitive: a 5-pixel shift drops agreement clearly."""
    with rasterio.open(small_region.classes_path) as src:
        truth = src.read(1)
    rebuilt = np.roll(_rasterise_osm(small_region), 5, axis=1)
    uniform = (ndimage.maximum_filter(truth, 3) == ndimage.minimum_filter(truth, 3)) & (truth > 0)
    assert float((rebuilt[uniform] == truth[uniform]).mean()) < 0.97


def _chip_features(rgb: np.ndarray, classes: np.ndarray, chip: int) -> tuple[np.ndarray, ...]:
    """Per uniform chip: colour means, colour spread and edge energy; its class; its column."""
    rows, cols = classes.shape[0] // chip, classes.shape[1] // chip
    feats, labels, xs = [], [], []
    for r in range(rows):
        for c in range(cols):
            window = (slice(r * chip, (r + 1) * chip), slice(c * chip, (c + 1) * chip))
            labels_here = classes[window]
            if labels_here.min() != labels_here.max() or labels_here[0, 0] <= 1:
                continue
            pixels = rgb[(slice(None), *window)].astype(float)
            grad = np.abs(np.diff(pixels, axis=1)).mean() + np.abs(np.diff(pixels, axis=2)).mean()
            feats.append([*pixels.mean(axis=(1, 2)), *pixels.std(axis=(1, 2)), grad])
            labels.append(labels_here[0, 0])
            xs.append(c * chip)
    return np.array(feats), np.array(labels), np.array(xs)


def test_classes_are_told_apart_from_pixels(small_region: RegionInfo) -> None:
    """A nearest-centroid classifier on simple chip statistics, trained on the west half and
    tested on the east half, recognises the land-cover classes: the looks are distinct."""
    with rasterio.open(small_region.orthophoto_path) as src:
        rgb = src.read()
    with rasterio.open(small_region.classes_path) as src:
        classes = src.read(1)
    assert (rgb[:, classes > 0] > 0).all(), "0 is reserved for no-data"
    feats, labels, xs = _chip_features(rgb, classes, chip=16)
    feats = (feats - feats.mean(axis=0)) / feats.std(axis=0)
    west, east = xs < classes.shape[1] / 2, xs >= classes.shape[1] / 2
    shared = [
        c
        for c in np.unique(labels)
        if (labels[west] == c).sum() >= 3 and (labels[east] == c).sum() >= 3
    ]
    assert len(shared) >= 8
    centroids = np.array([feats[west & (labels == c)].mean(axis=0) for c in shared])
    test = east & np.isin(labels, shared)
    predicted = np.array(shared)[
        np.argmin(((feats[test, None, :] - centroids) ** 2).sum(-1), axis=1)
    ]
    accuracy = float((predicted == labels[test]).mean())
    assert accuracy > 0.7, accuracy


def test_valid_mask_cuts_a_margin() -> None:
    grid = RegionGrid(size_m=500.0, gsd_m=1.0)
    mask = valid_mask(np.random.default_rng(1), grid)
    assert mask[grid.height // 2, grid.width // 2]
    edges = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    assert not edges.all()
    assert 0.85 < mask.mean() < 1.0
