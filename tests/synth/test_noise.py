"""Noise helpers: deterministic, normalised, uniform hashes."""

from __future__ import annotations

import numpy as np

from rsvl.synth.noise import hash01, value_noise


def test_value_noise_is_smooth_and_normalised() -> None:
    field = value_noise(np.random.default_rng(0), (200, 300), scale_px=20.0)
    again = value_noise(np.random.default_rng(0), (200, 300), scale_px=20.0)
    assert field.shape == (200, 300) and np.array_equal(field, again)
    assert abs(field.mean()) < 1e-4 and abs(field.std() - 1.0) < 1e-3
    neighbour = np.corrcoef(field[:, :-1].ravel(), field[:, 1:].ravel())[0, 1]
    assert neighbour > 0.8, "smooth: neighbouring pixels are correlated"


def test_hash01_is_uniform_and_keyed() -> None:
    i, j = np.meshgrid(np.arange(100), np.arange(100))
    values = hash01(i, j, salt=1)
    assert values.min() >= 0 and values.max() < 1
    assert abs(values.mean() - 0.5) < 0.02
    assert np.array_equal(values, hash01(i, j, salt=1))
    assert not np.array_equal(values, hash01(i, j, salt=2))
    assert not np.array_equal(values, hash01(j, i, salt=1))
