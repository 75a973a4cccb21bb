"""``ImageIndex``: embed a collection once, save it, and search it by text or image.

An index folder holds three files, each readable without rsvl:

- ``index.json``: the header (format, model spec and weights sha256, count, dimension, CRS,
  source, search backend);
- ``embeddings.npy``: ``N x D`` L2-normalised embeddings (float32 or float16);
- ``metadata.parquet``: one row per embedding (key, path, caption...), GeoParquet with the chip
  footprints as ``geometry`` when they are known;
- ``{backend}.faiss``: the approximate index, when one was built.

    >>> index = ImageIndex.from_raster(model, "ortho.tif", chip_size_m=50)
    >>> index.save("ortho.index")
    >>> ImageIndex.load("ortho.index").search("a roundabout", k=5)
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from rsvl import __version__
from rsvl.api.backends import (
    FILE_BACKENDS,
    FaissBackend,
    SearchBackend,
    choose_backend,
    make_backend,
    make_file_backend,
)
from rsvl.api.geoparquet import EmbeddingColumns, ParquetEmbeddings
from rsvl.api.images import IMAGE_SUFFIXES, GeoWindow, describe, iter_images, to_pil
from rsvl.api.model import RsvlModel, load_model
from rsvl.api.tiling import chip_extent, chip_grid
from rsvl.data.atomic import atomic_folder, write_json
from rsvl.data.images import open_image
from rsvl.data.records import RECORDS_FILE, read_records
from rsvl.data.shards import (
    SIZES_FILE,
    iter_shard,
    list_shards,
    read_sizes,
    shard_folders_for,
    split_folders,
)
from rsvl.errors import ConfigError, InputError

INDEX_FORMAT = "rsvl-image-index"
FORMAT_VERSION = 1
HEADER_FILE = "index.json"
EMBEDDINGS_FILE = "embeddings.npy"
METADATA_FILE = "metadata.parquet"
# Footprints of records in different CRSs are brought to one, longitude/latitude.
COMMON_CRS = "EPSG:4326"
STORAGE_DTYPES = ("float32", "float16")


class ImageIndex:
    """Embeddings of a collection of images with their metadata, searchable by text or image.

    Build one with :meth:`from_images`, :meth:`from_folder`, :meth:`from_records` or
    :meth:`from_raster`; read a saved one with :meth:`load`.

    Args:
        embeddings: ``N x D`` L2-normalised embeddings.
        metadata: One row per embedding (a GeoDataFrame when footprints are known).
        model_info: ``{"spec", "sha256", "embed_dim"}`` of the model that embedded them.
        source: What was indexed (kind, path, options), recorded in the header.
        backend: ``exact``, ``ivf``, ``hnsw`` or ``auto`` (approximate from 200k images);
            for an index read from GeoParquet also ``exact-streaming`` and ``ivf-ondisk``,
            which leave the vectors in the file (see :meth:`from_geoparquet`).
        model: The model itself, when at hand (otherwise loaded from its spec when needed).
    """

    def __init__(self, embeddings: np.ndarray | ParquetEmbeddings, metadata: pd.DataFrame,
                 model_info: dict[str, Any],
                 source: dict[str, Any] | None = None, backend: str = "auto",
                 model: RsvlModel | None = None, name: str = "index") -> None:
        if len(embeddings) != len(metadata):
            raise InputError(f"{name}: {len(embeddings)} embeddings but {len(metadata)} "
                             "metadata rows; rebuild the index")
        self.embeddings = embeddings
        self.metadata = metadata.reset_index(drop=True)
        self.model_info = dict(model_info)
        self.source = dict(source or {})
        self.backend_name = choose_backend(backend, len(embeddings))
        self.name = name
        self._model = model
        self._backend: SearchBackend | None = None
        self._saved_backend: Path | None = None
        self._nprobe: int | None = None

    def __len__(self) -> int:
        return len(self.embeddings)

    def __repr__(self) -> str:
        return (f"ImageIndex({self.name!r}, {len(self)} images, backend={self.backend_name!r}, "
                f"model={self.model_info['spec']!r})")

    @property
    def crs(self) -> str | None:
        """CRS of the footprints (``geometry``), or None when they are unknown."""
        crs = getattr(self.metadata, "crs", None)
        return None if crs is None else crs.to_string()

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_images(cls, model: RsvlModel, images: Any, keys: Sequence[str] | None = None,
                    batch_size: int = 64, progress: bool = True, **options: Any) -> ImageIndex:
        """Index any images :func:`rsvl.api.images.to_pil` accepts.

        Args:
            model: The model that embeds them.
            images: A sequence of images (paths, PIL images, arrays, GeoWindows...).
            keys: One name per image; default: its path or position.
            batch_size: Images per forward pass.
            progress: Show a progress bar.
            **options: ``backend`` and ``name`` for the index.
        """
        items = list(iter_images(images))
        rows = [{"key": describe(item, i), "path": _path_of(item)} for i, item in enumerate(items)]
        if keys is not None:
            if len(keys) != len(items):
                raise ConfigError(f"{len(keys)} keys for {len(items)} images; give one per image")
            for row, key in zip(rows, keys, strict=True):
                row["key"] = str(key)
        embeddings = model.encode_pil((to_pil(item) for item in items), batch_size=batch_size,
                                      progress=progress, total=len(items))
        return cls(embeddings, pd.DataFrame(rows, columns=["key", "path"]),
                   model_info(model), {"kind": "images"}, model=model, **options)

    @classmethod
    def from_folder(cls, model: RsvlModel, folder: str | Path, recursive: bool = True,
                    batch_size: int = 64, progress: bool = True, **options: Any) -> ImageIndex:
        """Index every image file (JPEG, PNG, TIFF, WebP) under ``folder``.

        Keys are the paths relative to ``folder``; paths are stored absolute.
        """
        root = Path(folder)
        if not root.is_dir():
            raise InputError(f"image folder not found: {root}")
        pattern = "**/*" if recursive else "*"
        files = sorted(p for p in root.glob(pattern)
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{root} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                             "point to a folder of images")
        keys = [p.relative_to(root).as_posix() for p in files]
        index = cls.from_images(model, [p.resolve() for p in files], keys=keys,
                                batch_size=batch_size, progress=progress, **options)
        index.source = {"kind": "folder", "path": str(root.resolve()), "recursive": recursive}
        return index

    @classmethod
    def from_records(cls, model: RsvlModel, path: str | Path, batch_size: int = 64,
                     progress: bool = True, **options: Any) -> ImageIndex:
        """Index a built dataset: a ``records.jsonl`` file, its folder, or a shard folder.

        Captions, splits and footprints travel into the metadata; footprints in several CRSs
        are reprojected to EPSG:4326.
        """
        path = Path(path)
        rows: list[dict[str, Any]] = []
        if _is_shard_folder(path):
            folders = shard_folders_for(path)  # a dataset's shards/: every split's folder
            kind, total = "shards", sum(sum(read_sizes(f).values()) for f in folders)
            images: Iterable[Image.Image] = (
                image for folder in folders for image in _shard_images(folder, rows))
        else:
            kind = "records"
            rows = _record_rows(path / RECORDS_FILE if path.is_dir() else path)
            total, images = len(rows), (to_pil(Path(row["path"])) for row in rows)
        embeddings = model.encode_pil(images, batch_size=batch_size, progress=progress,
                                      total=total)
        if not rows:
            raise InputError(f"{path} holds no records; build a dataset into it first")
        metadata = _with_footprints(rows)
        return cls(embeddings, metadata, model_info(model),
                   {"kind": kind, "path": str(path.resolve())}, model=model, **options)

    @classmethod
    def from_raster(cls, model: RsvlModel, source: str | Path, chip_size_m: float | None = None,
                    chip_px: int | None = None, stride: float = 1.0,
                    bands: Sequence[int] | None = None, min_valid_fraction: float = 0.5,
                    batch_size: int = 64, progress: bool = True, **options: Any) -> ImageIndex:
        """Tile georeferenced imagery into chips and index them with their footprints.

        Args:
            model: The model that embeds the chips.
            source: A GeoTIFF/COG/VRT, a ``{z}/{x}/{y}`` tile folder or an MBTiles file.
            chip_size_m: Chip side on the ground; default ``chip_px`` native pixels.
            chip_px: Chip side in pixels; default the model's input size.
            stride: Step between chips as a fraction of the chip (0.5: half overlap).
            bands: 1-based bands for red, green, blue (multispectral imagery).
            min_valid_fraction: Chips with less valid (not nodata) area are skipped.
            batch_size: Chips per forward pass.
            progress: Show a progress bar.
            **options: ``backend`` and ``name`` for the index.
        """
        import geopandas as gpd
        from shapely.geometry import box

        from rsvl.imagery import open_imagery

        chip_px = chip_px or _input_size(model)
        with open_imagery(source) as imagery:
            chip_size_m = chip_size_m or chip_px * imagery.gsd_m
            grid = list(chip_grid(imagery.bounds, chip_extent(imagery.crs, imagery.bounds,
                                                                chip_size_m), stride))
            rows: list[dict[str, Any]] = []

            def chips() -> Iterator[Image.Image]:
                for cell in grid:
                    chip = imagery.read(cell.bounds, chip_px, bands=bands)
                    if chip.valid_fraction >= min_valid_fraction:
                        rows.append({"key": cell.key, "imagery": str(source),
                                     "bands": list(bands) if bands else None,
                                     "row": cell.row, "col": cell.col, "gsd_m": chip.gsd_m,
                                     "valid_fraction": chip.valid_fraction,
                                     "geometry": box(*cell.bounds)})
                        yield chip.to_pil()

            embeddings = model.encode_pil(chips(), batch_size=batch_size, progress=progress,
                                          total=len(grid))
            crs = imagery.crs
        if not rows:
            raise InputError(f"{source}: no chip has {min_valid_fraction:.0%} valid pixels; "
                             "lower min_valid_fraction or check the imagery's nodata")
        metadata = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
        settings = {"chip_size_m": chip_size_m, "chip_px": chip_px, "stride": stride,
                    "bands": list(bands) if bands else None}
        return cls(embeddings, metadata, model_info(model),
                   {"kind": "raster", "path": str(source), **settings}, model=model, **options)

    @classmethod
    def from_source(cls, model: RsvlModel, source: str | Path, kind: str = "auto",
                    **options: Any) -> ImageIndex:
        """Index ``source`` with the builder its shape calls for (see :func:`source_kind`).

        Args:
            model: The model that embeds the images.
            source: An image folder, records file or folder, shard folder, raster or tiles.
            kind: ``auto``, ``folder``, ``records`` or ``raster``.
            **options: Passed to the builder.
        """
        builders = {"folder": cls.from_folder, "records": cls.from_records,
                    "raster": cls.from_raster}
        kind = source_kind(source) if kind == "auto" else kind
        if kind not in builders:
            raise ConfigError(f"unknown source kind {kind!r}; use auto, {', '.join(builders)}")
        return builders[kind](model, source, **options)  # type: ignore[operator]

    # -- saving and loading ---------------------------------------------------------------

    def save(self, path: str | Path, dtype: str = "float32") -> Path:
        """Write the index folder (replacing ``path`` as a whole).

        Args:
            path: Destination folder.
            dtype: ``float32`` or ``float16`` (half the size; scores change by ~1e-3).
        """
        if dtype not in STORAGE_DTYPES:
            raise ConfigError(f"dtype must be one of {STORAGE_DTYPES}, got {dtype!r}")
        if isinstance(self.embeddings, ParquetEmbeddings):
            raise ConfigError(f"{self.name} is searched in its GeoParquet file (backend "
                              f"{self.backend_name}); that file is the index: search it with "
                              "ImageIndex.load, or open it with backend='exact' to save a copy")
        with atomic_folder(path) as staging:
            np.save(staging / EMBEDDINGS_FILE, np.asarray(self.embeddings, dtype=dtype))
            self.metadata.to_parquet(staging / METADATA_FILE)
            backend_file = staging / f"{self.backend_name}.faiss"
            saved = self.backend.save(backend_file)
            write_json(staging / HEADER_FILE, {
                "format": INDEX_FORMAT, "version": FORMAT_VERSION, "rsvl_version": __version__,
                "model": self.model_info, "count": len(self),
                "dim": int(self.embeddings.shape[1]), "dtype": dtype, "crs": self.crs,
                "source": self.source, "backend": self.backend_name,
                "backend_file": backend_file.name if saved else None,
            })
        return Path(path)

    def to_geoparquet(self, path: str | Path, dtype: str = "float32") -> Path:
        """Write the embeddings as GeoParquet (:mod:`rsvl.api.geoparquet`): one row per chip
        with its footprint in EPSG:4326, readable by geopandas and DuckDB without rsvl."""
        from rsvl.api.geoparquet import write_embeddings

        preprocessing = dict(self._model.loaded.preprocess_cfg) if self._model else {}
        return write_embeddings(path, np.asarray(self.embeddings), self.metadata,
                                self.model_info, self.source, preprocessing, dtype)

    @classmethod
    def from_geoparquet(cls, path: str | Path, model: RsvlModel | None = None,
                        columns: EmbeddingColumns | None = None, model_spec: str | None = None,
                        backend: str = "auto") -> ImageIndex:
        """Read an embedding GeoParquet, rsvl's own or an external one (name its columns).

        Args:
            path: The ``.parquet`` file.
            model: The model to search with; refused unless it made the embeddings.
            columns: Which columns hold the id, embedding, geometry and model checksum.
            model_spec: The model that made the embeddings, when the file does not say.
            backend: Search backend; ``exact-streaming`` (exact, one pass over the file per
                search) and ``ivf-ondisk`` (IVF with its lists memory-mapped, built once into
                ``FILE.parquet.ivf/``) read only the metadata into memory, for collections
                larger than RAM.
        """
        from rsvl.api.geoparquet import read_embeddings

        names = columns or EmbeddingColumns()
        table = read_embeddings(path, names, model_spec, in_memory=backend not in FILE_BACKENDS)
        index = cls(table.embeddings, table.metadata, table.model_info,
                    {"kind": "geoparquet", "path": str(Path(path).resolve()), **table.source},
                    backend, name=str(path))
        if model is not None:
            index.check_model(model)
            index._model = model
        return index

    @classmethod
    def load(cls, path: str | Path, model: RsvlModel | None = None,
             backend: str | None = None) -> ImageIndex:
        """Read a saved index; embeddings are memory-mapped, not read up front.

        Args:
            path: The index folder, or an embedding GeoParquet file (``.parquet``).
            model: The model to search with; refused unless it built the index. Default:
                loaded from the recorded spec on the first text or image query.
            backend: Override the recorded search backend.
        """
        folder = Path(path)
        if folder.suffix == ".parquet" and folder.is_file():
            return cls.from_geoparquet(folder, model, backend=backend or "auto")
        header = read_header(folder)
        embeddings = np.load(folder / EMBEDDINGS_FILE, mmap_mode="r")
        metadata = _read_metadata(folder / METADATA_FILE)
        index = cls(embeddings, metadata, header["model"], header.get("source"),
                    backend or header["backend"], name=str(folder))
        if model is not None:
            index.check_model(model)
            index._model = model
        if header.get("backend_file") and index.backend_name == header["backend"]:
            index._saved_backend = folder / header["backend_file"]
        return index

    # -- searching ------------------------------------------------------------------------

    @property
    def backend(self) -> SearchBackend:
        """The search backend, built (or read from disk) on first use."""
        if self._backend is not None:
            return self._backend
        embeddings = self.embeddings
        if isinstance(embeddings, ParquetEmbeddings):
            self._backend = make_file_backend(self.backend_name, embeddings.path,
                                              embeddings.column)
        elif self.backend_name in FILE_BACKENDS:
            raise ConfigError(f"backend {self.backend_name} searches an embedding GeoParquet "
                              "file; write one with to_geoparquet and open it with "
                              "ImageIndex.load(FILE, backend=...)")
        else:
            if self.backend_name != "exact":
                embeddings = np.asarray(embeddings, dtype=np.float32)
            self._backend = make_backend(self.backend_name, embeddings, self._saved_backend)
        self._tune_backend()
        return self._backend

    def set_nprobe(self, nprobe: int) -> ImageIndex:
        """Search ``nprobe`` inverted lists per query (``ivf`` and ``ivf-ondisk`` backends).

        The default probes 1.6 % of the lists: recall@10 0.95 on the 10^6 benchmark, but 0.69
        at 10^7 x 128, where 8x the default reached 0.96 (bench/search_latency.py). Text
        queries lie away from the image clusters and need more probes than image queries.

        Raises:
            ConfigError: The backend is not IVF, or ``nprobe`` exceeds its lists.
        """
        if self.backend_name not in ("ivf", "ivf-ondisk"):
            raise ConfigError(f"nprobe applies to the ivf and ivf-ondisk backends; {self.name} "
                              f"uses {self.backend_name}")
        self._nprobe = int(nprobe)
        if self._backend is not None:
            self._tune_backend()
        return self

    def _tune_backend(self) -> None:
        """Apply :meth:`set_nprobe`'s setting to the built backend (an IVF one: checked there)."""
        if self._nprobe is not None:
            assert isinstance(self._backend, FaissBackend)
            self._backend.set_nprobe(self._nprobe)

    @property
    def model(self) -> RsvlModel:
        """The model that built the index (loaded from its spec the first time)."""
        if self._model is None:
            if not self.model_info.get("spec"):
                raise ConfigError(f"{self.name} does not record the model that made its "
                                  "embeddings; pass model= (or --model) to search it by text "
                                  "or image")
            model = load_model(self.model_info["spec"])
            self.check_model(model)
            self._model = model
        return self._model

    def check_model(self, model: RsvlModel) -> None:
        """Raise one line unless ``model`` has the weights this index was built with."""
        if self.model_info.get("sha256") is None:  # an external file that records no model
            if model.embed_dim != self.embeddings.shape[1]:
                raise InputError(f"{self.name} holds {self.embeddings.shape[1]}-d embeddings; "
                                 f"{model.spec} makes {model.embed_dim}-d ones: use the model "
                                 "that made them")
            return
        if model.checksum != self.model_info["sha256"]:
            raise InputError(
                f"{self.name} was built with model {self.model_info['spec']} (sha256 "
                f"{self.model_info['sha256'][:12]}), not {model.spec} (sha256 "
                f"{model.checksum[:12]}); query with the same model or rebuild the index")

    def embed_query(self, query: Any, model: RsvlModel | None = None) -> np.ndarray:
        """A query as one normalised embedding row.

        A ``str`` is a text query; a 1-D array of the index's dimension is an embedding;
        anything else is an image (pass a ``pathlib.Path`` to search by an image file).
        """
        if model is not None:
            self.check_model(model)
        if isinstance(query, np.ndarray) and (query.ndim == 1 or query.shape[0] == 1
                                              and query.ndim == 2):
            query = query.reshape(-1)
            if len(query) != self.embeddings.shape[1]:
                raise InputError(f"query embedding has {len(query)} values; this index holds "
                                 f"{self.embeddings.shape[1]}-d embeddings")
            vector = query.astype(np.float32)[None]
            return vector / np.maximum(np.linalg.norm(vector), 1e-12)
        model = model or self.model
        if isinstance(query, str):
            return model.encode_texts([query])
        return model.encode_images([query])

    def search(self, query: Any = None, k: int = 10, model: RsvlModel | None = None, *,
               text: str | None = None, image: Any = None,
               near: tuple[float, float, float] | None = None, within: Any = None,
               positives: Sequence[int] = (), negatives: Sequence[int] = ()) -> pd.DataFrame:
        """The ``k`` images most similar to a query, best first, optionally only near a place
        or inside a polygon.

        Args:
            query: Text (``str``), an image (path as ``pathlib.Path``, PIL, array, tensor,
                GeoWindow) or a 1-D embedding; or use ``text=`` / ``image=``.
            k: How many results.
            model: The model to embed the query with (must be the one that built the index).
            text: A text query.
            image: An image query.
            near: ``(lon, lat, radius_m)``: only footprints within that distance.
            within: Only footprints intersecting this polygon (shapely, GeoJSON, a GeoJSON
                file, a GeoDataFrame); see :func:`rsvl.api.places.as_polygon`.
            positives: Result ids to move the query towards (:meth:`refine`).
            negatives: Result ids to move the query away from.

        Returns:
            A DataFrame (GeoDataFrame in the index CRS when footprints are known) with
            ``rank``, ``score`` (cosine similarity; NaN for a place-only search, ranked by
            distance), ``id`` and the metadata columns.
        """
        if len(self) == 0:
            raise InputError(f"{self.name} is empty: build it from a folder, records or "
                             "imagery that holds images")
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        given = [q for q in (query, text, image) if q is not None]
        if len(given) > 1:
            raise ConfigError("give one query: text, image or an embedding, not several")
        vector = None
        if given or positives:
            vector = self.refine(given[0] if given else None, positives, negatives, model)
        candidates = self._candidates(near, within)
        if vector is None:
            if candidates is None:
                raise ConfigError("give a text or image query, positives, or a place "
                                  "(near= or within=) to search by")
            order = candidates
            if near is not None:
                from rsvl.api.places import distance_m

                distances = distance_m(self.metadata.iloc[candidates], near[0], near[1])
                order = candidates[np.argsort(distances, kind="stable")]
            ids, scores = order[:k], np.full(min(k, len(order)), np.nan)
        elif candidates is None:
            found_scores, found_ids = self.backend.search(vector, k)
            keep = found_ids[0] >= 0  # FAISS pads with -1 when fewer than k were reached
            ids, scores = found_ids[0][keep], found_scores[0][keep]
        else:
            # A spatial filter leaves a subset: score it exactly (a few chips of a map view).
            subset = np.asarray(self.embeddings[candidates], dtype=np.float32) @ vector[0]
            best = np.argsort(-subset, kind="stable")[:k]
            ids, scores = candidates[best], subset[best]
        results = self.metadata.iloc[ids].reset_index(drop=True)
        results.insert(0, "id", ids)
        results.insert(0, "score", np.asarray(scores, dtype=float))
        results.insert(0, "rank", np.arange(1, len(ids) + 1))
        return results

    def refine(self, query: Any = None, positives: Sequence[int] = (),
               negatives: Sequence[int] = (), model: RsvlModel | None = None,
               weights: tuple[float, float, float] = (1.0, 0.75, 0.25)) -> np.ndarray:
        """The query moved towards ``positives`` and away from ``negatives`` (Rocchio).

        ``q' = a q + b mean(positives) - c mean(negatives)``, renormalised, with
        ``weights = (a, b, c)``; pass the result to :meth:`search` as the query.

        Args:
            query: Text, an image or an embedding (``None``: positives alone).
            positives: Row ids (the ``id`` column of results) that are relevant.
            negatives: Row ids that are not.
            model: The model to embed the query with.
            weights: Rocchio's ``(a, b, c)``.
        """
        for name, ids in (("positive", positives), ("negative", negatives)):
            bad = [i for i in ids if not 0 <= int(i) < len(self)]
            if bad:
                raise ConfigError(f"{name} id {bad[0]} is not in {self.name} "
                                  f"(ids 0..{len(self) - 1})")
        if query is None and not positives:
            raise ConfigError("refine needs a query or at least one positive")
        alpha, beta, gamma = weights
        vector = (alpha * self.embed_query(query, model)[0] if query is not None
                  else np.zeros(self.embeddings.shape[1], dtype=np.float32))
        if positives:
            vector = vector + beta * np.asarray(self.embeddings[list(positives)],
                                                dtype=np.float32).mean(axis=0)
        if negatives:
            vector = vector - gamma * np.asarray(self.embeddings[list(negatives)],
                                                 dtype=np.float32).mean(axis=0)
        vector = vector.astype(np.float32)[None]
        return vector / np.maximum(np.linalg.norm(vector), 1e-12)

    def _candidates(self, near: tuple[float, float, float] | None,
                    within: Any) -> np.ndarray | None:
        """Row ids that pass the spatial filters (``None``: no filter given)."""
        if near is None and within is None:
            return None
        from rsvl.api.places import near_mask, within_mask

        mask = np.ones(len(self), dtype=bool)
        if near is not None:
            if len(near) != 3:
                raise ConfigError("near takes (lon, lat, radius_m)")
            mask &= near_mask(self.metadata, *map(float, near))
        if within is not None:
            mask &= within_mask(self.metadata, within)
        return np.flatnonzero(mask)


def source_kind(source: str | Path) -> str:
    """``records`` (records.jsonl, a dataset or shard folder), ``raster`` (a raster file, an
    MBTiles file or a ``{z}/{x}/{y}`` tile folder) or ``folder`` (any other folder of images)."""
    path = Path(source)
    if path.is_dir():
        if _is_shard_folder(path) or (path / RECORDS_FILE).is_file():
            return "records"
        entries = [entry for entry in path.iterdir() if not entry.name.startswith(".")]
        if entries and all(entry.is_dir() and entry.name.isdigit() for entry in entries):
            return "raster"
        return "folder"
    if not path.exists():
        raise InputError(f"{source} not found; pass an image folder, records, shards or imagery")
    return "records" if path.suffix == ".jsonl" else "raster"


def model_info(model: RsvlModel) -> dict[str, Any]:
    """What an index records about the model that embedded it."""
    return {"spec": model.spec, "sha256": model.checksum, "embed_dim": model.embed_dim}


def read_header(folder: Path) -> dict[str, Any]:
    """Read and check an index folder's ``index.json``."""
    header_file = folder / HEADER_FILE
    if not header_file.is_file():
        raise InputError(f"{folder} is not an rsvl image index ({HEADER_FILE} missing); "
                         "build one with `rsvl search build`")
    try:
        header = json.loads(header_file.read_text())
    except json.JSONDecodeError as error:
        raise InputError(
            f"{header_file}: malformed JSON ({error.msg}); rebuild the index") from None
    if not isinstance(header, dict) or header.get("format") != INDEX_FORMAT:
        raise InputError(f"{header_file} is not an rsvl image index header")
    if header.get("version") != FORMAT_VERSION:
        raise InputError(f"{header_file}: index format version {header.get('version')} is not "
                         f"supported (this rsvl reads version {FORMAT_VERSION}); rebuild it")
    for name in (EMBEDDINGS_FILE, METADATA_FILE):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: {name} is missing; the index is incomplete, rebuild it")
    return header


def _read_metadata(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    if b"geo" in (pq.read_schema(path).metadata or {}):
        import geopandas as gpd

        return gpd.read_parquet(path)
    return pd.read_parquet(path)


def _input_size(model: RsvlModel) -> int:
    size = model.loaded.preprocess_cfg.get("size", 224)
    return int(size[0] if isinstance(size, list | tuple) else size)


def _path_of(item: Any) -> str | None:
    if isinstance(item, str | Path):
        return str(item)
    return str(item.path) if isinstance(item, GeoWindow) else None


def _record_rows(records_file: Path) -> list[dict[str, Any]]:
    root = records_file.parent
    return [{"key": r.key, "path": str((root / r.image).resolve()), "caption": r.captions[0],
             "split": r.split, "footprint": r.footprint, "crs": r.crs}
            for r in read_records(records_file)]


def _is_shard_folder(path: Path) -> bool:
    """A shard folder, or a dataset's ``shards/`` written per split."""
    return path.is_dir() and ((path / SIZES_FILE).is_file() or bool(split_folders(path)))


def _shard_images(shard_dir: Path, rows: list[dict[str, Any]]) -> Iterator[Image.Image]:
    """Decoded images of every shard, appending each sample's metadata row to ``rows``."""
    for shard in list_shards(shard_dir):
        for sample in iter_shard(shard):
            record = sample.record
            rows.append({"key": sample.key, "path": str(shard.resolve()),
                         "member": f"{sample.key}.{sample.image_ext}",
                         "caption": sample.caption, "split": record.get("split"),
                         "footprint": record.get("footprint"), "crs": record.get("crs")})
            yield _decode(sample.image, rows[-1])


def _decode(data: bytes, row: dict[str, Any]) -> Image.Image:
    try:
        with open_image(io.BytesIO(data), f"{row['path']}: member {row['member']}") as image:
            return image.convert("RGB")
    except OSError as error:
        raise InputError(f"{row['path']}: member {row['member']} is not a readable image "
                         f"({error}); rebuild the shard") from None


def _with_footprints(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A GeoDataFrame when every row has a footprint (one CRS, or EPSG:4326), else a DataFrame."""
    frame = pd.DataFrame(rows)
    if frame.empty or frame["footprint"].isna().any() or frame["crs"].isna().any():
        return frame.drop(columns=["footprint", "crs"])
    import geopandas as gpd
    from shapely.geometry import box

    from rsvl.imagery.geo import footprint_to_crs

    crs_values = frame["crs"].unique()
    target = crs_values[0] if len(crs_values) == 1 else COMMON_CRS
    geometry = [footprint_to_crs(box(*footprint), crs, target)
                for footprint, crs in zip(frame["footprint"], frame["crs"], strict=True)]
    return gpd.GeoDataFrame(frame.drop(columns=["footprint"]), geometry=geometry, crs=target)
