"""Write a built dataset's records as WebDataset shards, Parquet splits and a footprint index.

Shards and Parquet are written per split (``shards/train/``, ``parquet/train.parquet``...),
so each training copy holds training samples only; :func:`reshard` rewrites a dataset built
before shards were split.

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

from rsvl.builders.regions import regions_json
from rsvl.data.atomic import atomic_open
from rsvl.data.records import SPLITS, Record
from rsvl.data.shards import (
    SHARDS_DIR,
    SIZES_FILE,
    ShardWriter,
    brace_pattern,
    iter_shard,
    list_shards,
    long_captions_of,
    read_sizes,
    split_folders,
)
from rsvl.errors import InputError
from rsvl.imagery.geo import WGS84, footprint_to_crs

PARQUET_BATCH = 256


def write_shards(root: Path, records: Sequence[Record], shard_size: int = 1000) -> dict[str, int]:
    """Write ``root/shards/{split}/{00000..}.tar`` + ``sizes.json`` per split, in record order.

    Each split gets its own folder (only the splits that have records), so a WebDataset reader
    pointed at ``shards/train`` can only read training samples.

    Args:
        root: The dataset root (chip paths in the records are relative to it).
        records: The records, in the order they go into the shards.
        shard_size: Samples per shard.

    Returns:
        Shards written per split.
    """
    shard_dir = root / SHARDS_DIR
    # Old shards may outnumber new ones (a rebuild with fewer records) or lie in the old
    # mixed-split layout: start clean.
    shutil.rmtree(shard_dir, ignore_errors=True)
    counts = {}
    for split in SPLITS:
        chosen = [r for r in records if r.split == split]
        if not chosen:
            continue
        with ShardWriter(shard_dir / split, max_samples=shard_size) as writer:
            for record in chosen:
                ext = Path(record.image).suffix.lstrip(".")
                writer.write(record, (root / record.image).read_bytes(), ext)
        counts[split] = writer.index
    return counts


def open_clip_recipe(shards_root: str | Path, shards: dict[str, int],
                     samples: dict[str, int]) -> dict[str, Any]:
    """open_clip's ``--train-data`` pattern and ``--train-num-samples`` for the training split
    (what the build prints and the manifest records); empty without training shards.

    Args:
        shards_root: The dataset's ``shards/`` folder as the user named it (the pattern starts
            with it).
        shards: Shards per split (from :func:`write_shards`).
        samples: Samples per split.
    """
    if not shards.get("train"):
        return {}
    pattern = brace_pattern(Path(shards_root) / "train", shards["train"])
    return {"train_data": pattern, "train_num_samples": samples["train"],
            "dataset_type": "webdataset"}


def open_clip_command(recipe: dict[str, Any]) -> str:
    """The recipe as open_clip flags, one line (``--train-data "..." --train-num-samples N``)."""
    if not recipe:
        return "open_clip: no training split, nothing to train on"
    return (f"open_clip: --train-data \"{recipe['train_data']}\" --train-num-samples "
            f"{recipe['train_num_samples']} --dataset-type {recipe['dataset_type']}")


def reshard(path: str | Path, shard_size: int | None = None) -> dict[str, int]:
    """Rewrite an old mixed-split shard folder into per-split folders, in place.

    Samples keep their order and bytes, so the result equals what a build writes today. The
    new folders are written beside the old one and swapped in, so an interruption leaves the
    old shards whole.

    Args:
        path: The shard folder (old tars + ``sizes.json``) or the dataset root holding it as
            ``shards/``.
        shard_size: Samples per new shard; default the old folder's largest shard.

    Returns:
        Shards written per split.

    Raises:
        InputError: No shard folder there, or it is already split.
    """
    path = Path(path)
    old = path if (path / SIZES_FILE).is_file() or split_folders(path) else path / SHARDS_DIR
    root = old.parent
    if split_folders(old):
        raise InputError(f"{old} is already written per split ({', '.join(split_folders(old))}); "
                         "nothing to rewrite")
    sizes = read_sizes(old)
    size = shard_size or max(sizes.values(), default=1)
    staging = root / f".{old.name}.reshard"
    shutil.rmtree(staging, ignore_errors=True)
    writers = {split: ShardWriter(staging / split, max_samples=size) for split in SPLITS}
    for shard in list_shards(old):
        for sample in iter_shard(shard):
            record = Record.from_dict(sample.record)
            writers[record.split].write(record, sample.image, sample.image_ext)
    for split, writer in writers.items():
        writer.close()
        if not writer.index:
            shutil.rmtree(staging / split)
    retired = root / f".{old.name}.old"
    shutil.rmtree(retired, ignore_errors=True)
    old.rename(retired)
    staging.rename(old)
    shutil.rmtree(retired)
    return {split: writer.index for split, writer in writers.items() if writer.index}


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
    # Region-text pairs (rsvl.builders.regions) as JSON text; null for records without them.
    "regions": (pa.string(), _value("string")),
    # Long descriptions (rsvl.captions.long, records' extra.long_captions); empty without them.
    "long_captions": (pa.list_(pa.string()), _strings()),
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
            "regions": regions_json(record.extra),
            "long_captions": long_captions_of(record.extra),
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
