"""The orthophoto and class raster files: a COG-like RGB GeoTIFF in UTM, and its class grid."""

from __future__ import annotations

import numpy as np
import rasterio

from rsvl.synth import RegionInfo, list_classes


def test_orthophoto_is_a_tiled_utm_geotiff_with_overviews(small_region: RegionInfo) -> None:
    with rasterio.open(small_region.orthophoto_path) as src:
        assert src.count == 3 and src.dtypes == ("uint8",) * 3
        epsg = src.crs.to_epsg()
        assert 32601 <= epsg <= 32660, "a northern UTM zone"
        assert src.res == (1.0, 1.0) and src.shape == (600, 600)
        assert src.block_shapes == [(256, 256)] * 3 and src.profile["tiled"]
        assert src.overviews(1), "overviews present"
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.compression.name.lower() == "deflate"
        mask = src.dataset_mask()
        assert src.nodata == 0
    assert mask[300, 300] == 255, "data in the middle"
    edges = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    assert (edges == 0).any(), "a no-data margin at the edge"
    assert 0.8 < (mask > 0).mean() < 1.0


def test_class_raster_shares_the_grid(small_region: RegionInfo) -> None:
    with (
        rasterio.open(small_region.orthophoto_path) as ortho,
        rasterio.open(small_region.classes_path) as cls,
    ):
        assert (
            cls.transform == ortho.transform and cls.crs == ortho.crs and cls.shape == ortho.shape
        )
        classes = cls.read(1)
        rgb_mask = ortho.dataset_mask()
    assert classes.dtype == np.uint8
    assert set(np.unique(classes)) <= {c.id for c in list_classes()}
    assert ((classes == 0) == (rgb_mask == 0)).all(), "no-data agrees between the two rasters"
