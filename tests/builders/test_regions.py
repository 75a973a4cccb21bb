"""Region-text pairs: masks agree with an independent rasterio rasterisation of the OSM
footprints (Kampala's real tiles, the built-in region) and, exactly, with one rasterize() call
per object; slivers, truncation, shards, Parquet."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely
from PIL import Image
from rasterio.features import MergeAlg, rasterize
from rasterio.transform import from_bounds

from rsvl.builders.captions import CaptionBuildConfig, build_captions
from rsvl.builders.chips import ChipRule
from rsvl.builders.regions import MIN_REGION_PX, RegionShapes, chip_regions
from rsvl.builders.settings import SplitRule
from rsvl.data.masks import decode_mask, encode_mask, region_mask
from rsvl.data.records import Record
from rsvl.osm import read_features
from rsvl.osm.tags import describe_parts


def test_mask_png_round_trips_and_refuses_a_wrong_size() -> None:
    mask = np.random.default_rng(0).random((7, 5)) > 0.5
    assert (decode_mask(encode_mask(mask), (7, 5)) == mask).all()
    with pytest.raises(Exception, match="5x7 px"):
        decode_mask(encode_mask(mask), (5, 7))


def test_edge_objects_are_clipped_and_flagged_and_slivers_dropped() -> None:
    bounds, shape = (0.0, 0.0, 20.0, 20.0), (20, 20)  # 1 unit per pixel, y up
    geometries = {"way/1": shapely.box(2, 2, 8, 7), "way/2": shapely.box(16, 4, 26, 9),
                  "way/3": shapely.box(19, 10, 25, 20)}  # way/3 shows a 1 x 10 px sliver
    tags = {"building": "house"}
    regions = chip_regions(bounds, shape, [(k, tags) for k in geometries], geometries)
    by_id = {r["osm_id"]: r for r in regions}
    assert set(by_id) == {"way/1", "way/2"}
    assert by_id["way/1"]["box"] == [2, 13, 8, 18] and by_id["way/1"]["area_px"] == 30
    assert not by_id["way/1"]["truncated"] and by_id["way/2"]["truncated"]
    assert by_id["way/2"]["box"] == [16, 11, 20, 16]  # clipped at the chip's right edge
    assert region_mask(by_id["way/2"], shape).sum() == 20
    assert by_id["way/1"]["noun"] == "house" and by_id["way/1"]["tags"] == tags
    assert [r["osm_id"] for r in regions] == ["way/1", "way/2"]  # largest first
    assert all(r["area_px"] >= MIN_REGION_PX for r in regions)


def _one_call_per_object(bounds: tuple[float, ...], shape: tuple[int, int],
                         objects: list[tuple[str, dict[str, str]]],
                         geometries: dict[str, Any]) -> list[dict[str, Any]]:
    """The regions as rasterize() gives them with one call per object over the whole chip
    (lines burn what they touch), the first builder's way."""
    transform = from_bounds(*bounds, shape[1], shape[0])
    regions = []
    for osm_id, tags in objects:
        geometry, parts = geometries.get(osm_id), describe_parts(tags)
        if geometry is None or geometry.is_empty or parts is None:
            continue
        lines = geometry.geom_type in ("LineString", "MultiLineString")
        mask = rasterize([(geometry, 1)], out_shape=shape, transform=transform,
                         all_touched=lines, dtype="uint8").astype(bool)
        if mask.sum() < MIN_REGION_PX:
            continue
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        regions.append({
            "osm_id": osm_id, "phrase": parts.text, "noun": parts.noun, "tags": dict(tags),
            "box": [x0, y0, x1, y1], "area_px": int(mask.sum()),
            "truncated": not shapely.box(*bounds).contains(geometry),
            "mask": encode_mask(mask[y0:y1, x0:x1])})
    return sorted(regions, key=lambda r: (-r["area_px"], r["osm_id"]))


def test_shared_gdal_calls_burn_what_one_call_per_object_burns() -> None:
    bounds, shape = (0.0, 0.0, 20.0, 20.0), (20, 20)  # 1 unit per pixel, y up
    # Horizontal edges on rows of pixel centres (y = 15.5, 0.5, 2.5, 4.5): GDAL's add mode
    # burns this one differently from replace mode, so it needs a call of its own.
    centred = shapely.Polygon([(11, 15.5), (4.25, 15.5), (2, 0.5), (15.25, 0.5), (5.75, 2.5),
                               (8.5, 2.5), (2.75, 4.5), (16.5, 4.5)])
    alone = rasterize([(centred, 1)], out_shape=shape, transform=from_bounds(*bounds, 20, 20),
                      dtype="uint8")
    added = rasterize([(centred, 1)], out_shape=shape, transform=from_bounds(*bounds, 20, 20),
                      dtype="uint32", merge_alg=MergeAlg.add)
    assert (alone != added).any()
    rng = np.random.default_rng(0)
    geometries: dict[str, Any] = {
        "way/centred": centred,
        # overlapping parts: each part burns its own bit, so the overlap is not counted twice
        "relation/overlap": shapely.MultiPolygon([shapely.box(1, 1, 9, 9),
                                                  shapely.box(5, 5, 13, 12)]),
        "way/holed": shapely.box(10.3, 2.2, 19.6, 11.7).difference(
            shapely.box(12.1, 4.4, 17.2, 9.3)),
        "way/line": shapely.LineString([(0.4, 19.2), (19.7, 13.1)]),
        "way/edge": shapely.box(-3.3, 12.2, 4.4, 25.1),  # cut by the chip's edge
    }
    for index in range(40):  # more polygons than one call's 32 bits
        x, y = rng.uniform(0, 16, 2)
        geometries[f"way/{index}"] = shapely.box(x, y, x + rng.uniform(2, 6),
                                                 y + rng.uniform(2, 6)).buffer(0.7)
    # Lines share calls of their own: random ones, ones on pixel edges and centres (axis
    # parallel too), a MultiLineString whose parts cross, and more than 32.
    for index in range(36):
        points = rng.uniform(-2, 22, (int(rng.integers(2, 6)), 2))
        if index % 2:
            points = np.round(points * 2) / 2
            points[1::2, 1] = points[0, 1]
        geometries[f"way/road{index}"] = shapely.LineString(points)
    geometries["relation/crossing"] = shapely.MultiLineString([[(1, 1), (19, 19)],
                                                              [(1, 19), (19, 1)]])
    objects = [(osm_id, {"building": "house"} if "road" not in osm_id and "line" not in osm_id
                and "crossing" not in osm_id else {"highway": "residential"})
               for osm_id in geometries]
    expected = _one_call_per_object(bounds, shape, objects, geometries)
    assert len(expected) > 64
    assert chip_regions(bounds, shape, objects, geometries) == expected
    assert chip_regions(bounds, shape, objects, RegionShapes(geometries)) == expected


def _assert_exact(root: Path, records: list[Record], features: gpd.GeoDataFrame) -> None:
    """Every chip's regions, recomputed from ``features`` by chip_regions and by one
    rasterize() call per object, are equal (boxes, areas, mask bytes)."""
    local: dict[str, gpd.GeoDataFrame] = {}
    compared = 0
    for record in records:
        assert record.footprint is not None and record.crs is not None
        if record.crs not in local:
            local[record.crs] = features.to_crs(record.crs)
        hits = local[record.crs][local[record.crs].intersects(shapely.box(*record.footprint))]
        with Image.open(root / record.image) as image:
            shape = (image.size[1], image.size[0])
        objects = list(zip(hits["osm_id"], hits["tags"], strict=True))
        geometries = dict(zip(hits["osm_id"], hits.geometry, strict=True))
        expected = _one_call_per_object(tuple(record.footprint), shape, objects, geometries)
        assert chip_regions(record.footprint, shape, objects,
                            RegionShapes(geometries)) == expected
        compared += len(expected)
    assert compared >= len(records)


def _agreement(root: Path, records: list[Record], footprints: gpd.GeoDataFrame) -> float:
    """Pooled IoU of the records' building masks with rasterio's own rasterisation of every
    footprint touching each chip (on the chip grid: its footprint and pixel size)."""
    inter = union = 0
    for record in records:
        assert record.footprint is not None and record.crs is not None
        with Image.open(root / record.image) as image:
            width, height = image.size
        local = footprints.to_crs(record.crs)
        chip = shapely.box(*record.footprint)
        shapes = [(g, 1) for g in local.geometry if g.intersects(chip)]
        reference = rasterize(shapes, out_shape=(height, width), dtype="uint8",
                              transform=from_bounds(*record.footprint, width, height)
                              ).astype(bool) if shapes else np.zeros((height, width), bool)
        ours = np.zeros((height, width), bool)
        for region in record.extra["regions"]:
            if "building" in region["tags"]:
                ours |= region_mask(region, (height, width))
        inter += int((reference & ours).sum())
        union += int((reference | ours).sum())
    return inter / union


def test_kampala_region_masks_match_the_osm_footprints(shared_data: Path,
                                                       tmp_path: Path) -> None:
    kampala = shared_data / "kampala"
    config = CaptionBuildConfig(
        osm=str(kampala / "osm_buildings.geojson"), imagery=str(kampala / "tiles"),
        out=str(tmp_path), source="kampala", licence="CC-BY-4.0 (OpenAerialMap)",
        read_options={"default_tags": {"building": "yes"}}, split=SplitRule(cell_m=100),
        rule=ChipRule(chip_size=128, max_gsd_factor=16))
    result = build_captions(config)
    assert len(result.records) >= 50
    assert all(r.extra["regions"][0]["noun"] == "building" for r in result.records)
    footprints = gpd.read_file(kampala / "osm_buildings.geojson")
    assert _agreement(tmp_path, result.records, footprints) >= 0.95  # measured 0.9999
    footprints = read_features(kampala / "osm_buildings.geojson",
                               default_tags={"building": "yes"})
    _assert_exact(tmp_path, result.records, footprints)


def test_region_masks_of_the_builtin_region_match_and_travel_in_shards_and_parquet(
        vqa_region: Any, tmp_path: Path) -> None:
    config = CaptionBuildConfig(osm=str(vqa_region.osm_path),
                                imagery=str(vqa_region.orthophoto_path), out=str(tmp_path),
                                licence="CC0-1.0", rule=ChipRule(chip_size=128),
                                split=SplitRule(cell_m=200))
    result = build_captions(config)
    records = result.records
    assert sum(len(r.extra["regions"]) for r in records) > 5 * len(records)
    features = read_features(vqa_region.osm_path)
    buildings = features[[tags.get("building") is not None for tags in features["tags"]]]
    assert _agreement(tmp_path, records, buildings) >= 0.95  # measured 0.9967
    _assert_exact(tmp_path, records, features)
    assert any(r["truncated"] for rec in records for r in rec.extra["regions"])
    by_key = {r.key: r for r in records}
    shard = next((tmp_path / "shards").rglob("*.tar"))
    with tarfile.open(shard) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".regions.json"))
        key = member.name.split(".")[0]
        handle = tar.extractfile(member)
        assert handle is not None
        assert json.loads(handle.read()) == by_key[key].extra["regions"]
    table = pq.read_table(next((tmp_path / "parquet").glob("*.parquet")),
                          columns=["key", "regions"])
    row = table.slice(0, 1).to_pylist()[0]
    assert json.loads(row["regions"]) == by_key[row["key"]].extra["regions"]


def test_a_region_text_build_is_a_segmentation_source(shared_data: Path, tmp_path: Path,
                                                      vqa_tiny_model: Any) -> None:
    from rsvl.evaluation.runner import EvalRequest, run_evaluation
    from rsvl.evaluation.segmentation import BACKGROUND, load_segmentation

    kampala = shared_data / "kampala"
    build_captions(CaptionBuildConfig(
        osm=str(kampala / "osm_buildings.geojson"), imagery=str(kampala / "tiles"),
        out=str(tmp_path / "b"), source="kampala", licence="CC-BY-4.0 (OpenAerialMap)",
        read_options={"default_tags": {"building": "yes"}}, split=SplitRule(cell_m=100),
        rule=ChipRule(chip_size=64, max_gsd_factor=16)))
    data = load_segmentation(tmp_path / "b", "all")
    assert data.classnames == [BACKGROUND, "building"]
    assert all(0 < (m == 1).sum() for m in data.masks)  # every chip shows its building
    path, result = run_evaluation(vqa_tiny_model, EvalRequest(
        task="segmentation", dataset=str(tmp_path / "b"), split="all"), tmp_path / "res")
    assert result is not None and result["protocol"]["labels"] == "region-text masks"
    assert result["num_images"] == len(data.images)
