"""The >8-bit to 8-bit stretch rules, against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rsvl.errors import ConfigError
from rsvl.imagery.stretch import apply_rule, fixed_rule, percentile_rule, rule_for_bands


def test_percentile_rule_ignores_invalid_pixels() -> None:
    pixels = np.stack([np.arange(101, dtype=float).reshape(1, 101),
                       np.full((1, 101), 7.0)])
    valid = np.ones((1, 101), dtype=bool)
    rule = percentile_rule(pixels, valid, (10, 90))
    assert rule["min"] == [10.0, 7.0] and rule["max"] == [90.0, 7.0]
    valid[:, 50:] = False
    assert percentile_rule(pixels, valid, (0, 100))["max"][0] == 49.0


def test_apply_and_restrict_rule() -> None:
    rule = {"method": "fixed", "min": [0.0, 100.0], "max": [1000.0, 200.0]}
    pixels = np.array([[[500.0, 2000.0]], [[150.0, 50.0]]])
    out = apply_rule(pixels, rule, (1, 2))
    assert out.dtype == np.uint8 and out.tolist() == [[[128, 255]], [[128, 0]]]
    assert rule_for_bands(rule, (2, 2, 1))["min"] == [100.0, 100.0, 0.0]


def test_fixed_rule_range_is_checked() -> None:
    assert fixed_rule((0, 4095), 2) == {"method": "fixed", "min": [0.0, 0.0],
                                        "max": [4095.0, 4095.0]}
    with pytest.raises(ConfigError, match="min < max"):
        fixed_rule((10, 10), 3)
