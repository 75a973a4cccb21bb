"""Embeddings as GeoParquet, the community format for precomputed embeddings.

One row per chip: ``id``, ``geometry`` (the footprint, WKB, longitude/latitude: GeoParquet 1.1
with no ``crs`` key, i.e. OGC:CRS84), ``embedding`` (a fixed-size list of float32, or float16
when asked), the source columns (path, shard member, raster window...), ``model_spec``,
``model_sha256`` and ``created``. The file-level metadata key ``rsvl`` records the model, its
preprocessing and the source. geopandas, DuckDB and Dask-GeoPandas read such files without rsvl.

:func:`read_embeddings` also reads files rsvl did not write (Major TOM-style embedding
GeoParquet): the id, embedding and geometry column names are options.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rsvl import __version__
from rsvl.data.atomic import atomic_open
from rsvl.errors import ConfigError, InputError

EMBEDDINGS_FORMAT = "rsvl-embeddings"
FORMAT_VERSION = 1
METADATA_KEY = b"rsvl"
LONLAT = "EPSG:4326"
DTYPES = {"float32": np.float32, "float16": np.float16}


@dataclass(frozen=True)
class EmbeddingColumns:
    """Which columns of an embedding GeoParquet hold what (defaults: rsvl's own names).

    Attributes:
        id: Unique row id (``None``: the row number).
        embedding: Fixed-size or variable list of floats, one vector per row.
        geometry: WKB footprints (``None``: no footprints).
        model_sha256: Per-row model checksum; rows from several models are refused.
    """

    id: str | None = "id"
    embedding: str = "embedding"
    geometry: str | None = "geometry"
    model_sha256: str | None = "model_sha256"


def write_embeddings(path: str | Path, embeddings: np.ndarray, metadata: pd.DataFrame,
                     model_info: dict[str, Any], source: dict[str, Any] | None = None,
                     preprocessing: dict[str, Any] | None = None,
                     dtype: str = "float32") -> Path:
    """Write embeddings and their metadata as one GeoParquet file, atomically.

    Args:
        path: The ``.parquet`` file to write.
        embeddings: ``N x D`` L2-normalised embeddings.
        metadata: One row per embedding; a GeoDataFrame's footprints become ``geometry`` in
            EPSG:4326, other scalar or list columns are kept.
        model_info: ``{"spec", "sha256", "embed_dim"}`` of the model.
        source: What was embedded (recorded in the file metadata).
        preprocessing: The model's image preprocessing (size, mean, std, interpolation).
        dtype: ``float32`` or ``float16``.

    Returns:
        The written path.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    if dtype not in DTYPES:
        raise ConfigError(f"embedding dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if len(embeddings) != len(metadata):
        raise InputError(f"{len(embeddings)} embeddings but {len(metadata)} metadata rows")
    count, dim = embeddings.shape
    vectors = np.ascontiguousarray(embeddings, dtype=DTYPES[dtype]).reshape(-1)
    columns: dict[str, Any] = {"id": pa.array(np.arange(count, dtype=np.int64))}
    geo: dict[str, Any] | None = None
    frame = pd.DataFrame(metadata)
    if getattr(metadata, "crs", None) is not None and "geometry" in metadata:
        footprints = metadata.geometry.to_crs(LONLAT)  # type: ignore[attr-defined]
        bounds = footprints.total_bounds
        columns["geometry"] = pa.array(shapely.to_wkb(np.asarray(footprints.values)),
                                       type=pa.binary())
        types = sorted({kind for kind in footprints.geom_type.dropna().unique()})
        geo = {"version": "1.1.0", "primary_column": "geometry",
               "columns": {"geometry": {"encoding": "WKB", "geometry_types": types,
                                        "bbox": [float(v) for v in bounds]}}}
        frame = frame.drop(columns=["geometry"])
    columns["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors), dim)
    for name in frame.columns:
        if name not in columns:
            columns[name] = pa.array(frame[name].tolist())
    created = pd.Timestamp(time.time(), unit="s", tz="UTC")
    columns["model_spec"] = pa.array([model_info["spec"]] * count).dictionary_encode()
    columns["model_sha256"] = pa.array([model_info["sha256"]] * count).dictionary_encode()
    columns["created"] = pa.array([created] * count, type=pa.timestamp("ms", tz="UTC"))
    table = pa.table(columns)
    file_metadata = {METADATA_KEY: json.dumps({
        "format": EMBEDDINGS_FORMAT, "version": FORMAT_VERSION, "rsvl_version": __version__,
        "model": model_info, "preprocessing": preprocessing or {}, "source": source or {},
        "dtype": dtype, "dim": int(dim), "count": int(count)}, sort_keys=True).encode()}
    if geo is not None:
        file_metadata[b"geo"] = json.dumps(geo).encode()
    table = table.replace_schema_metadata(file_metadata)
    with atomic_open(path) as handle:
        pq.write_table(table, handle, row_group_size=65_536)
    return Path(path)


class ParquetEmbeddings:
    """The embedding column of a GeoParquet file, read on demand instead of held in memory.

    Indexing with row ids (an int, a sequence or an array) reads only the row groups holding
    them and returns float32 L2-normalised rows, like indexing an in-memory array; the
    file-backed search backends (``exact-streaming``, ``ivf-ondisk``) never need more.

    Args:
        path: The ``.parquet`` file.
        column: Its embedding column.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, path: str | Path, column: str = "embedding") -> None:
        import pyarrow.parquet as pq

        self.path, self.column = Path(path), column
        with pq.ParquetFile(self.path) as parquet:
            sizes = [parquet.metadata.row_group(i).num_rows
                     for i in range(parquet.metadata.num_row_groups)]
            first = parquet.read_row_group(0, columns=[column]).column(0) if sizes else None
        self._starts = np.cumsum([0, *sizes])
        if first is None or not len(first):
            raise InputError(f"{self.path} holds no embeddings")
        self.shape = (int(self._starts[-1]), int(_vectors(self.path, first[:1]).shape[1]))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.parquet as pq

        ids = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        if ids.size and (ids.min() < -len(self) or ids.max() >= len(self)):
            raise IndexError(f"row {int(ids.max())} is outside {self.path}'s {len(self)} rows")
        ids = np.where(ids < 0, ids + len(self), ids)
        out = np.empty((len(ids), self.shape[1]), dtype=np.float32)
        groups = np.searchsorted(self._starts, ids, side="right") - 1
        with pq.ParquetFile(self.path) as parquet:
            for group in np.unique(groups):
                here = groups == group
                column = parquet.read_row_group(int(group), columns=[self.column]).column(0)
                local = pa.array(ids[here] - self._starts[group])
                out[here] = _vectors(self.path, column.take(local))
        return out[0] if np.ndim(rows) == 0 else out


@dataclass
class EmbeddingTable:
    """What :func:`read_embeddings` returns: vectors, metadata and the recorded model."""

    embeddings: np.ndarray | ParquetEmbeddings
    metadata: pd.DataFrame
    model_info: dict[str, Any]
    source: dict[str, Any]


def read_embeddings(path: str | Path, columns: EmbeddingColumns | None = None,
                    model_spec: str | None = None, in_memory: bool = True) -> EmbeddingTable:
    """Read an embedding GeoParquet (rsvl's or an external one) as L2-normalised vectors.

    Args:
        path: The ``.parquet`` file.
        columns: Column names, for files rsvl did not write.
        model_spec: The model that made the embeddings, when the file does not record it.
        in_memory: Read every vector now; ``False`` reads only the metadata and leaves the
            vectors in the file (:class:`ParquetEmbeddings`), for collections past RAM.

    Raises:
        InputError: The file is missing, not Parquet, lacks the named columns, mixes
            models or holds vectors of different lengths.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = columns or EmbeddingColumns()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"embedding file not found: {path}")
    try:
        available = pq.read_schema(path).names
        table = pq.read_table(path, columns=None if in_memory else
                              [c for c in available if c != names.embedding])
    except (pa.ArrowInvalid, OSError) as error:
        raise InputError(f"{path} is not a readable Parquet file ({error}); "
                         "write it again") from None
    metadata = table.schema.metadata or {}
    recorded = _json_metadata(path, metadata.get(METADATA_KEY))
    missing = [c for c in (names.embedding, names.id) if c and c not in available]
    if missing:
        raise InputError(f"{path} has no column {missing[0]!r} (columns: "
                         f"{', '.join(available)}); name it with the column options")
    embeddings: np.ndarray | ParquetEmbeddings = (
        _vectors(path, table.column(names.embedding)) if in_memory
        else ParquetEmbeddings(path, names.embedding))
    model_info = dict(recorded.get("model") or {})
    if names.model_sha256 and names.model_sha256 in table.column_names:
        checksums = set(table.column(names.model_sha256).to_pylist())
        if len(checksums) > 1:
            raise InputError(f"{path} mixes embeddings of {len(checksums)} models; "
                             "split it by model_sha256 and search each on its own")
        model_info.setdefault("sha256", checksums.pop() if checksums else None)
    if model_spec is not None:
        if model_info.get("spec") not in (None, model_spec):
            raise InputError(f"{path} records model {model_info['spec']}, not {model_spec}")
        model_info["spec"] = model_spec
    model_info.setdefault("spec", None)
    model_info.setdefault("sha256", None)
    model_info["embed_dim"] = int(embeddings.shape[1])
    frame = table.drop_columns([c for c in (names.embedding,) if c in table.column_names]
                               ).to_pandas()
    if names.id:
        # Results number rows by position (``id``); a file's own ids stay as ``source_id``.
        ids = frame.pop(names.id)
        if not ids.equals(pd.Series(np.arange(len(frame)), name=names.id)):
            frame.insert(0, "source_id", ids)
    if names.geometry and names.geometry in frame:
        frame = _geodataframe(path, frame, names.geometry, metadata.get(b"geo"))
    return EmbeddingTable(embeddings, frame, model_info, dict(recorded.get("source") or {}))


def _json_metadata(path: Path, raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError:
        raise InputError(f"{path}: its 'rsvl' file metadata is malformed JSON; "
                         "write the file again") from None
    return payload if isinstance(payload, dict) else {}


def _vectors(path: Path, column: Any) -> np.ndarray:
    """``N x D`` float32, L2-normalised (external files are often not normalised)."""
    import pyarrow as pa

    column = column.combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        dim = column.type.list_size
        flat = column.flatten().to_numpy(zero_copy_only=False)
    elif pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lengths = set(pa.compute.list_value_length(column).to_pylist())
        if len(lengths) != 1:
            raise InputError(f"{path}: embeddings have different lengths "
                             f"({sorted(lengths)[:4]}); every row needs one length")
        dim = lengths.pop() or 0
        flat = column.flatten().to_numpy(zero_copy_only=False)
    else:
        raise InputError(f"{path}: the embedding column holds {column.type}, not lists of "
                         "floats; name the right column")
    if len(column) == 0 or dim == 0:
        raise InputError(f"{path} holds no embeddings")
    vectors = np.asarray(flat, dtype=np.float32).reshape(len(column), dim)
    if not np.isfinite(vectors).all():
        raise InputError(f"{path}: some embeddings are NaN or infinite; recompute them")
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _geodataframe(path: Path, frame: pd.DataFrame, column: str, geo: bytes | None) -> Any:
    import geopandas as gpd
    import shapely

    crs: Any = LONLAT
    if geo is not None:
        try:
            described = json.loads(geo)["columns"][column]
        except (json.JSONDecodeError, KeyError, TypeError):
            described = {}
        # GeoParquet: no "crs" key means OGC:CRS84 (longitude/latitude).
        crs = described.get("crs") or LONLAT
    try:
        geometry = shapely.from_wkb(frame[column].to_numpy())
    except (shapely.errors.GEOSException, TypeError):
        raise InputError(f"{path}: column {column!r} is not WKB geometry; name the right "
                         "column or pass no geometry column") from None
    return gpd.GeoDataFrame(frame.drop(columns=[column]), geometry=geometry, crs=crs)
