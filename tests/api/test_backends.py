"""Exact search against a naive full-matrix reference; backend choice."""

from __future__ import annotations

import numpy as np
import pytest

from rsvl.api.backends import APPROXIMATE_FROM, ExactBackend, choose_backend
from rsvl.errors import ConfigError


def test_chunked_exact_matches_full_matrix() -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((1000, 16)).astype(np.float32)
    queries = rng.standard_normal((7, 16)).astype(np.float32)
    scores, ids = ExactBackend(data, chunk_rows=97).search(queries, k=12)
    full = queries @ data.T
    expected = np.argsort(-full, axis=1)[:, :12]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, 1), rtol=1e-5)
    small_scores, small_ids = ExactBackend(data[:5]).search(queries, k=12)
    assert small_ids.shape == (7, 5)


def test_float16_storage_is_searched_in_float32() -> None:
    data = np.eye(4, dtype=np.float16)
    scores, ids = ExactBackend(data).search(np.array([[0, 0, 1, 0]], np.float32), k=1)
    assert ids[0, 0] == 2 and scores.dtype == np.float32


def test_choose_backend() -> None:
    assert choose_backend("auto", APPROXIMATE_FROM - 1) == "exact"
    assert choose_backend("auto", APPROXIMATE_FROM) == "ivf"
    assert choose_backend("hnsw", 10) == "hnsw"
    with pytest.raises(ConfigError, match="unknown search backend 'flat'"):
        choose_backend("flat", 10)
