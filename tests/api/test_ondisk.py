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
from rsvl.errors import InputError

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
