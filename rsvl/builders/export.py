"""Write a built dataset's records as WebDataset shards, Parquet splits and a footprint index.

All three are derived from ``records.jsonl`` and the chip files, in record order, so they are
pure functions of the records: a resumed build rewrites them identically.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from shapely.geometry.base import BaseGeometry

from rsvl.data.atomic import atomic_open
from rsvl.data.records import SPLITS, Record
from rsvl.data.shards import ShardWriter
from rsvl.imagery.geo import WGS84, footprint_to_crs

PARQUET_BATCH = 256


def write_shards(root: Path, records: Sequence[Record], shard_size: int = 1000) -> int:
    """Write ``root/shards/{00000..}.tar`` + ``sizes.json`` from the records, in order.

    Args:
        root: The dataset root (chip paths in the records are relative to it).
        records: The records, in the order they go into the shards.
        shard_size: Samples per shard.

    Returns:
        The number of shards written.
    """
    shard_dir = root / "shards"
    # Old shards may outnumber new ones (a rebuild with fewer records): start clean.
    shutil.rmtree(shard_dir, ignore_errors=True)
    with ShardWriter(shard_dir, max_samples=shard_size) as writer:
        for record in records:
            ext = Path(record.image).suffix.lstrip(".")
            writer.write(record, (root / record.image).read_bytes(), ext)
    return writer.index


def _value(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "_type": "Value"}


def _strings() -> dict[str, Any]:
    return {"feature": _value("string"), "_type": "Sequence"}


# Column -> (Arrow type, Hugging Face feature). The features travel in the file's metadata,
# the way ``datasets`` writes them, so ``load_dataset("parquet")`` decodes ``image`` as an
# Image without this module importing ``datasets`` (and torch with it) during a build.
PARQUET_COLUMNS: dict[str, tuple[pa.DataType, dict[str, Any]]] = {
    "key": (pa.string(), _value("string")),
    "image": (pa.struct([("bytes", pa.binary()), ("path", pa.string())]), {"_type": "Image"}),
    "caption": (pa.string(), _value("string")),
    "captions": (pa.list_(pa.string()), _strings()),
    "split": (pa.string(), _value("string")),
    "source": (pa.string(), _value("string")),
    "licence": (pa.string(), _value("string")),
    "osm_ids": (pa.list_(pa.string()), _strings()),
    "tags": (pa.string(), _value("string")),
    "footprint": (pa.list_(pa.float64()), {"feature": _value("float64"), "_type": "Sequence"}),
    "crs": (pa.string(), _value("string")),
    "gsd_m": (pa.float64(), _value("float64")),
}


def parquet_schema() -> pa.Schema:
    """The Arrow schema of the Parquet copy, with the Hugging Face features as metadata."""
    features = {name: feature for name, (_, feature) in PARQUET_COLUMNS.items()}
    return pa.schema(
        [(name, arrow_type) for name, (arrow_type, _) in PARQUET_COLUMNS.items()],
        metadata={"huggingface": json.dumps({"info": {"features": features}})},
    )


def _parquet_rows(root: Path, records: Iterable[Record]) -> Iterator[dict[str, object]]:
    for record in records:
        yield {
            "key": record.key,
            "image": {"bytes": (root / record.image).read_bytes(), "path": record.image},
            "caption": record.captions[0],
            "captions": record.captions,
            "split": record.split,
            "source": record.source,
            "licence": record.licence,
            "osm_ids": record.osm_ids,
            "tags": json.dumps(record.tags, ensure_ascii=False, sort_keys=True),
            "footprint": record.footprint,
            "crs": record.crs,
            "gsd_m": record.gsd_m,
        }


def write_parquet(root: Path, records: Sequence[Record]) -> dict[str, int]:
    """Write ``root/parquet/{train,val,test}.parquet`` with images embedded as bytes.

    ``datasets.load_dataset("parquet", data_files=...)`` reads them with an ``Image`` feature
    (the schema travels in the file's metadata).

    Returns:
        Rows per split.
    """
    schema = parquet_schema()
    counts = {}
    for split in SPLITS:
        chosen = [r for r in records if r.split == split]
        counts[split] = len(chosen)
        with atomic_open(root / "parquet" / f"{split}.parquet", "wb") as handle:
            with pq.ParquetWriter(handle, schema) as writer:
                # Batches bound the memory held by embedded image bytes.
                for start in range(0, len(chosen), PARQUET_BATCH):
                    rows = list(_parquet_rows(root, chosen[start:start + PARQUET_BATCH]))
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    return counts


def write_footprints(root: Path, records: Sequence[Record]) -> None:
    """Write ``root/footprints.parquet``: a GeoParquet index of chip footprints in EPSG:4326."""
    records = [r for r in records if r.footprint is not None]
    geometries: list[BaseGeometry | None] = [None] * len(records)
    by_crs: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_crs.setdefault(str(record.crs), []).append(index)
    # One reprojection per CRS of all its boxes as a collection (each point is projected
    # alone either way): per-box calls cost more than the rest of the index.
    for crs, indices in by_crs.items():
        corners = np.array([records[i].footprint for i in indices], dtype=np.float64).T
        boxes = shapely.GeometryCollection(list(shapely.box(*corners)))
        moved = footprint_to_crs(boxes, crs, WGS84).geoms  # type: ignore[attr-defined]
        for index, geometry in zip(indices, moved, strict=True):
            geometries[index] = geometry
    frame = gpd.GeoDataFrame(
        {
            "key": [r.key for r in records],
            "image": [r.image for r in records],
            "split": [r.split for r in records],
            "gsd_m": [r.gsd_m for r in records],
            "crs": [r.crs for r in records],
        },
        geometry=geometries,
        crs=WGS84,
    )
    with atomic_open(root / "footprints.parquet", "wb") as handle:
        frame.to_parquet(handle, index=False)
