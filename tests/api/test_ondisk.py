"""Search past RAM: exact search streaming a GeoParquet, and an IVF index built from it in
chunks with its lists on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rsvl.api.backends import (
    ExactBackend,
    StreamingExactBackend,
    build_ondisk_ivf,
    load_ondisk_ivf,
)
from rsvl.api.geoparquet import write_embeddings
from rsvl.errors import ConfigError, InputError

MODEL = {"spec": "test", "sha256": "0" * 64, "embed_dim": 16}


@pytest.fixture()
def embeddings_file(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """3,000 clustered 16-d embeddings in a GeoParquet (read back in chunks of 700 rows)."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((30, 16))
    points = centres[rng.integers(0, 30, 3000)] + 0.3 * rng.standard_normal((3000, 16))
    vectors = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    path = write_embeddings(tmp_path / "e.parquet", vectors,
                            pd.DataFrame({"key": [f"k{i}" for i in range(3000)]}), MODEL)
    return path, vectors


def test_streaming_exact_equals_in_memory(embeddings_file: tuple[Path, np.ndarray]) -> None:
    path, vectors = embeddings_file
    queries = vectors[[5, 1500, 2999]] + 0.01
    streamed = StreamingExactBackend(path, chunk_rows=700).search(queries, 7)
    in_memory = ExactBackend(vectors).search(queries, 7)
    np.testing.assert_array_equal(streamed[1], in_memory[1])
    np.testing.assert_allclose(streamed[0], in_memory[0], atol=1e-5)
    with pytest.raises(InputError, match="no column 'vec'"):
        StreamingExactBackend(path, column="vec").search(queries, 1)


def test_ondisk_ivf_built_in_chunks(embeddings_file: tuple[Path, np.ndarray],
                                    tmp_path: Path) -> None:
    path, vectors = embeddings_file
    built = build_ondisk_ivf(path, tmp_path / "ivf", chunk_rows=700)
    assert sorted(p.name for p in (tmp_path / "ivf").iterdir()) == ["ivf.faiss", "ivf.ivfdata"]
    assert built.index.ntotal == 3000
    backend = load_ondisk_ivf(tmp_path / "ivf")
    queries = vectors[::100]
    truth = ExactBackend(vectors).search(queries, 10)[1]
    found = backend.search(queries, 10)[1]
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall > 0.9 and set(found[:, 0]) <= set(range(3000))
    assert (found[:, 0] == np.arange(0, 3000, 100)).mean() > 0.9  # each row finds itself
    with pytest.raises(InputError, match="no on-disk IVF index"):
        load_ondisk_ivf(tmp_path)


@pytest.mark.parametrize("backend", ["exact-streaming", "ivf-ondisk"])
def test_image_index_searches_the_file_where_it_lies(embeddings_file: tuple[Path, np.ndarray],
                                                     backend: str) -> None:
    from rsvl.api import ImageIndex
    from rsvl.api.geoparquet import ParquetEmbeddings

    path, vectors = embeddings_file
    index = ImageIndex.load(path, backend=backend)
    assert isinstance(index.embeddings, ParquetEmbeddings) and len(index) == 3000
    assert "embedding" not in index.metadata  # only the metadata is in memory
    query = vectors[1234] + 0.01 * vectors[7]
    in_memory = ImageIndex.load(path).search(query, k=5)
    found = index.search(query, k=5)
    assert found["id"].iloc[0] == 1234 and found["key"].iloc[0] == "k1234"
    if backend == "exact-streaming":
        assert found["id"].tolist() == in_memory["id"].tolist()
    # Refinement and spatial subsets read only the rows they name.
    np.testing.assert_allclose(index.embeddings[[2999, 0, 1500]], vectors[[2999, 0, 1500]],
                               atol=1e-6)
    towards = index.refine(query, positives=[42], weights=(0.0, 1.0, 0.0))
    assert index.search(towards, k=1)["id"].tolist() == [42]
    with pytest.raises(ConfigError, match="that file is the index"):
        index.save(path.parent / "copy.index")


def test_ondisk_ivf_is_kept_beside_the_file_and_rebuilt_when_stale(
        embeddings_file: tuple[Path, np.ndarray]) -> None:
    from rsvl.api import ImageIndex
    from rsvl.api.backends import ondisk_ivf_folder

    path, vectors = embeddings_file
    ImageIndex.load(path, backend="ivf-ondisk").search(vectors[0], k=1)
    kept = ondisk_ivf_folder(path) / "ivf.faiss"
    built_at = kept.stat().st_mtime_ns
    ImageIndex.load(path, backend="ivf-ondisk").search(vectors[0], k=1)
    assert kept.stat().st_mtime_ns == built_at  # reused, not rebuilt
    fewer = write_embeddings(path, vectors[:2000],
                             pd.DataFrame({"key": [f"k{i}" for i in range(2000)]}), MODEL)
    again = ImageIndex.load(fewer, backend="ivf-ondisk")
    assert again.backend.index.ntotal == 2000  # type: ignore[attr-defined]


def test_file_backends_need_a_geoparquet_file(embeddings_file: tuple[Path, np.ndarray]) -> None:
    from rsvl.api import ImageIndex
    from rsvl.api.backends import BACKENDS
    from rsvl.cli.search import BACKEND_CHOICES

    path, vectors = embeddings_file
    in_memory = ImageIndex.load(path)
    in_memory.backend_name = "exact-streaming"
    with pytest.raises(ConfigError, match="searches an embedding GeoParquet file"):
        in_memory.search(vectors[0], k=1)
    assert sorted(BACKEND_CHOICES) == sorted(BACKENDS)  # the CLI's list, written out


def test_nprobe_trades_time_for_recall_up_to_exact_search(
        embeddings_file: tuple[Path, np.ndarray]) -> None:
    from rsvl.api import ImageIndex

    path, vectors = embeddings_file
    queries = vectors[::50] + 0.05 * vectors[::-50]
    truth = ExactBackend(vectors).search(queries, 10)[1]
    index = ImageIndex.load(path, backend="ivf-ondisk")
    nlist = index.backend.index.nlist  # type: ignore[attr-defined]

    def recall(nprobe: int) -> float:
        found = index.set_nprobe(nprobe).backend.search(queries, 10)[1]
        return float(np.mean([len(set(t) & set(f)) / 10
                              for t, f in zip(truth, found, strict=True)]))

    # Every list probed is exhaustive search: IVF-flat then finds the exact top-k.
    assert recall(1) < recall(nlist) == 1.0
    with pytest.raises(ConfigError, match=f"nprobe must lie in 1..{nlist}"):
        index.set_nprobe(nlist + 1)
    with pytest.raises(ConfigError, match="nprobe applies to the ivf and ivf-ondisk backends"):
        ImageIndex.load(path, backend="exact-streaming").set_nprobe(4)
