"""Nearest-neighbour search over L2-normalised embeddings: exact, or approximate with FAISS.

Scores are inner products, which are cosine similarities for normalised rows. ``exact`` is a
chunked matrix product with a running top-k (memory stays bounded whatever the index size);
``ivf`` (IVF-flat) and ``hnsw`` are FAISS indexes, built once and saved beside the index.

Past RAM: :class:`StreamingExactBackend` scores an embedding GeoParquet row group by row group,
and :func:`build_ondisk_ivf` builds an IVF-flat index from it in chunks whose inverted lists
live in a memory-mapped file (FAISS ``OnDiskInvertedLists``), read back by
:func:`load_ondisk_ivf`.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rsvl.errors import ConfigError

# Rows scored per matrix product in exact search: 64 Ki rows x 512 d x 4 B = 128 MiB at most.
EXACT_CHUNK_ROWS = 1 << 16
# ``auto`` switches to the approximate backend from this many embeddings; below it exact
# search answers in a few milliseconds anyway (measured in bench/search_latency.py).
APPROXIMATE_FROM = 200_000
AUTO_APPROXIMATE = "ivf"
# Tuned in bench/search_latency.py: nprobe 32 of 2000 lists gives recall@10 0.95 at 10^6.
IVF_LISTS_PER_SQRT_N = 2.0
IVF_KMEANS_ITERATIONS = 10
IVF_NPROBE_FRACTION = 0.016
IVF_MIN_NPROBE = 16
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


class SearchBackend(Protocol):
    """What :class:`rsvl.api.ImageIndex` needs from a backend."""

    name: str

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, ids)`` per query row, best first (both ``Q x k``)."""

    def save(self, path: Path) -> bool:
        """Write whatever is costly to rebuild to ``path``; False when there is nothing."""


class ExactBackend:
    """Exact inner-product search: chunked matrix products and a running top-k."""

    name = "exact"

    def __init__(self, embeddings: np.ndarray, chunk_rows: int = EXACT_CHUNK_ROWS) -> None:
        self.embeddings = embeddings
        self.chunk_rows = chunk_rows

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` by inner product."""
        chunks = ((start, self.embeddings[start:start + self.chunk_rows])
                  for start in range(0, len(self.embeddings), self.chunk_rows))
        return exact_top_k(queries, chunks, min(k, len(self.embeddings)))

    def save(self, path: Path) -> bool:
        """Nothing to save: the embeddings are the index."""
        return False


def exact_top_k(queries: np.ndarray, chunks: Iterable[tuple[int, np.ndarray]],
                k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` ``(scores, ids)`` of ``queries`` over ``(first row id, rows)`` chunks, keeping
    only ``k`` candidates per query between chunks (memory: one chunk)."""
    queries = np.asarray(queries, dtype=np.float32)
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start, rows in chunks:
        scores = queries @ np.asarray(rows, dtype=np.float32).T
        keep = min(k, scores.shape[1])
        if keep < 1:
            continue
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], 1)
        best_ids = np.concatenate([best_ids, top + start], axis=1)
        if best_scores.shape[1] > k:
            top = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
            best_scores = np.take_along_axis(best_scores, top, 1)
            best_ids = np.take_along_axis(best_ids, top, 1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_scores, order, 1), np.take_along_axis(best_ids, order, 1)


def iter_parquet_embeddings(path: str | Path, column: str = "embedding",
                            chunk_rows: int = EXACT_CHUNK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row id, N x D float32 L2-normalised rows)`` chunks of an embedding GeoParquet,
    read batch by batch (memory: one chunk, whatever the file's size)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rsvl.api.geoparquet import _vectors

    start = 0
    with pq.ParquetFile(path) as parquet:
        if column not in parquet.schema_arrow.names:
            from rsvl.errors import InputError

            raise InputError(f"{path} has no column {column!r}; name the embedding column")
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=[column]):
            rows = _vectors(Path(path), pa.chunked_array([batch.column(0)]))
            yield start, rows
            start += len(rows)


class StreamingExactBackend:
    """Exact search over an embedding GeoParquet too large for memory: each query streams the
    file's embedding column in chunks (a full read per search; batch queries to amortise it).

    Args:
        path: The ``.parquet`` file.
        column: Its embedding column.
        chunk_rows: Rows scored per matrix product.
    """

    name = "exact-streaming"

    def __init__(self, path: str | Path, column: str = "embedding",
                 chunk_rows: int = EXACT_CHUNK_ROWS) -> None:
        import pyarrow.parquet as pq

        self.path, self.column, self.chunk_rows = Path(path), column, chunk_rows
        self.count = pq.ParquetFile(path).metadata.num_rows

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` by inner product, one pass over the file."""
        chunks = iter_parquet_embeddings(self.path, self.column, self.chunk_rows)
        return exact_top_k(queries, chunks, min(k, self.count))

    def save(self, path: Path) -> bool:
        """Nothing to save: the file is the index."""
        return False


ONDISK_INDEX_FILE = "ivf.faiss"
ONDISK_LISTS_FILE = "ivf.ivfdata"


def build_ondisk_ivf(path: str | Path, folder: str | Path, column: str = "embedding",
                     chunk_rows: int = 1 << 18, nlist: int | None = None,
                     seed: int = 0) -> FaissBackend:
    """Build an IVF-flat index of an embedding GeoParquet in chunks, lists on disk.

    Two passes over the file: the first keeps a random sample (40 rows per list) to train
    the coarse quantizer, the second adds each chunk to its own small index file, which
    FAISS's ``merge_ondisk`` then merges into one ``OnDiskInvertedLists`` file. Memory stays
    at one chunk plus the sample; the lists are memory-mapped when searching.

    Args:
        path: The ``.parquet`` file.
        folder: Output folder (``ivf.faiss`` and ``ivf.ivfdata``; keep them together: the
            index records the lists file's absolute path).
        column: The embedding column.
        chunk_rows: Rows per added block.
        nlist: Inverted lists (default about ``2 sqrt(N)``, as the in-memory IVF).
        seed: Sampling seed.
    """
    import pyarrow.parquet as pq

    faiss = import_faiss()
    from faiss.contrib.ondisk import merge_ondisk

    count = pq.ParquetFile(path).metadata.num_rows
    nlist = nlist or ivf_lists(count)
    fraction = min(1.0, nlist * 40 / max(count, 1))
    rng = np.random.default_rng(seed)
    sample = [rows[rng.random(len(rows)) < fraction]
              for _, rows in iter_parquet_embeddings(path, column, chunk_rows)]
    training = np.ascontiguousarray(np.concatenate(sample))
    dim = training.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    trained = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    trained.cp.niter = IVF_KMEANS_ITERATIONS
    trained.train(training)
    del training, sample
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    blocks = out / ".blocks"
    blocks.mkdir(exist_ok=True)
    faiss.write_index(trained, str(blocks / "trained.faiss"))
    names = []
    for number, (start, rows) in enumerate(iter_parquet_embeddings(path, column, chunk_rows)):
        block = faiss.read_index(str(blocks / "trained.faiss"))
        block.add_with_ids(np.ascontiguousarray(rows), np.arange(start, start + len(rows)))
        names.append(str(blocks / f"block{number:05d}.faiss"))
        faiss.write_index(block, names[-1])
        del block
    index = faiss.read_index(str(blocks / "trained.faiss"))
    lists = out / ONDISK_LISTS_FILE
    lists.unlink(missing_ok=True)
    merge_ondisk(index, names, str(lists.resolve()))
    faiss.write_index(index, str(out / ONDISK_INDEX_FILE))
    shutil.rmtree(blocks)
    return load_ondisk_ivf(out)


def load_ondisk_ivf(folder: str | Path) -> FaissBackend:
    """Read an index written by :func:`build_ondisk_ivf` (lists stay memory-mapped)."""
    faiss = import_faiss()
    path = Path(folder) / ONDISK_INDEX_FILE
    if not path.is_file() or not (Path(folder) / ONDISK_LISTS_FILE).is_file():
        from rsvl.errors import InputError

        raise InputError(f"{folder} holds no on-disk IVF index ({ONDISK_INDEX_FILE} + "
                         f"{ONDISK_LISTS_FILE}); build one with build_ondisk_ivf")
    # OnDiskInvertedLists map their file themselves (IO_FLAG_MMAP on top crashes FAISS 1.15).
    return FaissBackend("ivf", index=faiss.read_index(str(path)))


class FaissBackend:
    """A FAISS inner-product index: ``ivf`` (IVF-flat) or ``hnsw``.

    Args:
        name: ``ivf`` or ``hnsw``.
        embeddings: ``N x D`` float32, L2-normalised; None when ``index`` is given.
        index: An already built FAISS index (read from disk).
    """

    def __init__(self, name: str, embeddings: np.ndarray | None = None,
                 index: Any | None = None) -> None:
        faiss = import_faiss()
        self.name = name
        if index is None:
            assert embeddings is not None
            data = np.ascontiguousarray(embeddings, dtype=np.float32)
            index = _APPROXIMATE[name][0](faiss, data)
        self.index = index
        _APPROXIMATE[name][1](faiss, index)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top-``k``; ids of missing neighbours (tiny indexes) are dropped."""
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32),
                                        min(k, self.index.ntotal))
        return scores, ids.astype(np.int64)

    def save(self, path: Path) -> bool:
        """Write the FAISS index to ``path``."""
        import_faiss().write_index(self.index, str(path))
        return True

    @classmethod
    def load(cls, name: str, path: Path) -> FaissBackend:
        """Read a saved FAISS index."""
        return cls(name, index=import_faiss().read_index(str(path)))

    def set_nprobe(self, nprobe: int) -> None:
        """Probe ``nprobe`` inverted lists per query (IVF only): more lists find more of the
        exact top-k and take longer (bench/search_latency.py measures the trade-off)."""
        if self.name != "ivf":
            raise ConfigError(f"nprobe applies to IVF indexes (ivf, ivf-ondisk); this one is "
                              f"{self.name}")
        ivf = import_faiss().extract_index_ivf(self.index)
        if not 1 <= nprobe <= ivf.nlist:
            raise ConfigError(f"nprobe must lie in 1..{ivf.nlist} (the index's lists), got "
                              f"{nprobe}")
        ivf.nprobe = nprobe


def ivf_lists(count: int) -> int:
    """About 2 sqrt(N) lists, each with 40 training points (FAISS wants at least 39)."""
    return max(1, min(round(IVF_LISTS_PER_SQRT_N * math.sqrt(count)), count // 40))


def _build_ivf(faiss: Any, data: np.ndarray) -> Any:
    nlist = ivf_lists(len(data))
    quantizer = faiss.IndexFlatIP(data.shape[1])
    index = faiss.IndexIVFFlat(quantizer, data.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = IVF_KMEANS_ITERATIONS
    sample = np.random.default_rng(0).permutation(len(data))[:nlist * 40]
    index.train(data[np.sort(sample)])
    index.add(data)
    return index


def _tune_ivf(faiss: Any, index: Any) -> None:
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = max(IVF_MIN_NPROBE, math.ceil(ivf.nlist * IVF_NPROBE_FRACTION))


def _build_hnsw(faiss: Any, data: np.ndarray) -> Any:
    index = faiss.IndexHNSWFlat(data.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(data)
    return index


def _tune_hnsw(faiss: Any, index: Any) -> None:
    index.hnsw.efSearch = HNSW_EF_SEARCH


# Approximate backend name -> (build from embeddings, set search-time parameters).
_APPROXIMATE: dict[str, tuple[Callable[[Any, np.ndarray], Any], Callable[[Any, Any], None]]] = {
    "ivf": (_build_ivf, _tune_ivf),
    "hnsw": (_build_hnsw, _tune_hnsw),
}


def import_faiss() -> Any:
    """Import FAISS, or say how to install it."""
    try:
        import faiss
    except ImportError:
        raise ConfigError("approximate search needs FAISS: pip install 'rsvl[faiss]' "
                          "(faiss-cpu), or use backend='exact'") from None
    return faiss


# Backends that search an embedding GeoParquet where it lies (collections past RAM).
FILE_BACKENDS = (StreamingExactBackend.name, "ivf-ondisk")
BACKENDS = ("exact", *_APPROXIMATE, *FILE_BACKENDS, "auto")


def choose_backend(name: str, count: int) -> str:
    """Resolve ``auto`` by index size; reject unknown names."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown search backend {name!r}; use one of {', '.join(BACKENDS)}")
    if name != "auto":
        return name
    return AUTO_APPROXIMATE if count >= APPROXIMATE_FROM else "exact"


def ondisk_ivf_folder(path: str | Path) -> Path:
    """Where the on-disk IVF index of an embedding GeoParquet is kept: ``FILE.parquet.ivf/``."""
    return Path(path).with_name(Path(path).name + ".ivf")


def make_file_backend(name: str, path: str | Path, column: str = "embedding") -> SearchBackend:
    """A :data:`FILE_BACKENDS` backend over the GeoParquet ``path``, without loading it.

    ``ivf-ondisk`` reads the index kept in :func:`ondisk_ivf_folder` and (re)builds it there,
    in chunks, when it is missing or older than the file.
    """
    if name == StreamingExactBackend.name:
        return StreamingExactBackend(path, column)
    if name != "ivf-ondisk":
        raise ConfigError(f"{name!r} is not a file backend; use one of {', '.join(FILE_BACKENDS)}")
    folder = ondisk_ivf_folder(path)
    built = folder / ONDISK_INDEX_FILE
    if built.is_file() and built.stat().st_mtime_ns >= Path(path).stat().st_mtime_ns:
        return load_ondisk_ivf(folder)
    return build_ondisk_ivf(path, folder, column)


def make_backend(name: str, embeddings: np.ndarray, saved: Path | None = None) -> SearchBackend:
    """The backend ``name`` over ``embeddings``, read from ``saved`` when that file exists."""
    if name == "exact":
        return ExactBackend(embeddings)
    if saved is not None and saved.is_file():
        return FaissBackend.load(name, saved)
    return FaissBackend(name, embeddings)
