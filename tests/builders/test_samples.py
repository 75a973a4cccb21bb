"""One partition's samples: the result file, the chips, and the reader a worker reuses."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from rsvl.builders.chips import ChipRule
from rsvl.builders.samples import (
    PartitionTask,
    SampleSettings,
    frame_partition,
    make_partition,
    worker_imagery,
)
from rsvl.imagery import open_imagery


def _write_tif(path: Path, seed: int) -> Path:
    pixels = np.random.default_rng(seed).integers(1, 256, (3, 64, 64), dtype=np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=3, dtype="uint8",
                       crs="EPSG:32629", transform=from_origin(500_000, 4_300_064, 1, 1)) as out:
        out.write(pixels)
    return path


def test_worker_reuses_one_reader_per_source(tmp_path: Path) -> None:
    first = open_imagery(_write_tif(tmp_path / "a.tif", 0))
    # A task's reader arrives pickled: a copy of the same source and options is served by the
    # reader already open in this thread, with its handle and block cache.
    assert worker_imagery(first) is first
    assert worker_imagery(pickle.loads(pickle.dumps(first))) is first
    other = open_imagery(_write_tif(tmp_path / "b.tif", 1))
    assert worker_imagery(other) is other
    # The file rewritten in place (new size or time): its reader is not reused.
    stale = pickle.loads(pickle.dumps(other))
    os.utime(other.source, ns=(1, 1))
    assert worker_imagery(stale) is stale
    other.close()


def test_partition_writes_chips_and_rejections(tmp_path: Path) -> None:
    imagery = open_imagery(_write_tif(tmp_path / "ortho.tif", 2))
    settings = SampleSettings(source="t", licence="CC0", rule=ChipRule(chip_size=16,
                              min_object_px=2), native_res=1.0, captions_per_chip=2, seed=0)
    house = ("way/1", {"building": "house"}, box(500_020, 4_300_020, 500_030, 4_300_030).wkb)
    speck = ("way/2", {"building": "yes"}, box(500_040, 4_300_040, 500_041, 4_300_041).wkb)
    task = PartitionTask(tmp_path / "p.jsonl", tmp_path, imagery, settings, [house, speck],
                         [house, speck])
    # The framing pass reads no pixel: footprints (imagery and grid CRS) or a rejection.
    framed = frame_partition(task)
    assert framed[1] == {"osm_id": "way/2", "rejected": "too_small"}
    assert framed[0]["key"] == "t-way-1" and framed[0]["footprint"] == [
        500_017.0, 4_300_017.0, 500_033.0, 4_300_033.0]
    assert len(framed[0]["grid"]) == 4 and not list(tmp_path.glob("chips/*/*"))
    # The reading pass reads, captions and writes the chips it is given, with their split.
    task.reads = {"way/1": "val"}
    make_partition(task)
    rows = [json.loads(line) for line in task.result.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["record"]["split"] == "val"
    record = rows[0]["record"]
    assert record["captions"][0].endswith(" house")
    assert record["osm_ids"] == ["way/1"]  # the speck lies outside the house's chip
    assert (tmp_path / record["image"]).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
