"""Nearest-neighbour search over L2-normalised embeddings: exact, or approximate with FAISS.

Scores are inner products, which are cosine similarities for normalised rows. ``exact`` is a
chunked matrix product with a running top-k (memory stays bounded whatever the index size);
``ivf`` (IVF-flat) and ``hnsw`` are FAISS indexes, built once and saved beside the index.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
        count = len(self.embeddings)
        k = min(k, count)
        best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        best_ids = np.zeros((len(queries), 0), dtype=np.int64)
        for start in range(0, count, self.chunk_rows):
            chunk = np.asarray(self.embeddings[start:start + self.chunk_rows], dtype=np.float32)
            scores = queries @ chunk.T
            keep = min(k, scores.shape[1])
            top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
            best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], 1)
            best_ids = np.concatenate([best_ids, top + start], axis=1)
            if best_scores.shape[1] > k:
                top = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
                best_scores = np.take_along_axis(best_scores, top, 1)
                best_ids = np.take_along_axis(best_ids, top, 1)
        order = np.argsort(-best_scores, axis=1, kind="stable")
        return np.take_along_axis(best_scores, order, 1), np.take_along_axis(best_ids, order, 1)

    def save(self, path: Path) -> bool:
        """Nothing to save: the embeddings are the index."""
        return False


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


def _build_ivf(faiss: Any, data: np.ndarray) -> Any:
    # About 2 sqrt(N) lists, k-means trained on 40 points per list (FAISS wants at least 39).
    nlist = max(1, min(round(IVF_LISTS_PER_SQRT_N * math.sqrt(len(data))), len(data) // 40))
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


BACKENDS = ("exact", *_APPROXIMATE, "auto")


def choose_backend(name: str, count: int) -> str:
    """Resolve ``auto`` by index size; reject unknown names."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown search backend {name!r}; use one of {', '.join(BACKENDS)}")
    if name != "auto":
        return name
    return AUTO_APPROXIMATE if count >= APPROXIMATE_FROM else "exact"


def make_backend(name: str, embeddings: np.ndarray, saved: Path | None = None) -> SearchBackend:
    """The backend ``name`` over ``embeddings``, read from ``saved`` when that file exists."""
    if name == "exact":
        return ExactBackend(embeddings)
    if saved is not None and saved.is_file():
        return FaissBackend.load(name, saved)
    return FaissBackend(name, embeddings)
