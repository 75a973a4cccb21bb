"""Textures: box-filtered patterns worked out by hand, and every texture on sample pixels."""

from __future__ import annotations

import numpy as np
import pytest

from rsvl.synth.classes import list_classes
from rsvl.synth.textures import Pixels, _bands, _line, render_texture


def _pixels(n: int = 400, variant: int = 1) -> Pixels:
    rng = np.random.default_rng(0)
    u, v = rng.uniform(-40, 40, n).astype(np.float32), rng.uniform(-20, 20, n).astype(np.float32)
    ones = np.ones(n, np.float32)
    return Pixels(
        u=u,
        v=v,
        cos=ones,
        sin=0 * ones,
        a=50 * ones,
        b=25 * ones,
        rand=0.3 * ones,
        variant=np.full(n, variant),
        fid=np.ones(n, np.int64),
        framed=ones,
        lo=rng.standard_normal(n).astype(np.float32),
        mid=rng.standard_normal(n).astype(np.float32),
        hi=rng.standard_normal(n).astype(np.float32),
        gsd_m=1.0,
    )


def test_bands_box_filter() -> None:
    x = np.array([0.5, 1.5, 2.0, 3.5])
    # bands [0, 2), [4, 6) ...: pixel windows [0,1] full, [1,2] full, [1.5,2.5] half, [3,4] empty
    assert _bands(x, 4.0, 0.5, 1.0) == pytest.approx([1.0, 1.0, 0.5, 0.0])
    # stripes finer than a pixel average out to their duty cycle instead of aliasing
    fine = _bands(np.linspace(0, 10, 101), 0.25, 0.4, 1.0)
    assert fine == pytest.approx(np.full(101, 0.4), abs=1e-5)


def test_line_coverage() -> None:
    assert _line(np.array([0.0, 0.75, 2.0]), 0.25, 1.0) == pytest.approx([0.5, 0.0, 0.0])
    assert _line(np.array([0.5]), 0.5, 1.0) == pytest.approx([0.5])


@pytest.mark.parametrize(
    "land_class", [c for c in list_classes() if c.kind != "none"], ids=lambda c: c.name
)
def test_every_look_renders_in_range(land_class) -> None:
    rgb = render_texture(_pixels(), land_class.look)
    assert rgb.shape == (400, 3) and np.isfinite(rgb).all()
    assert 0 <= rgb.min() and rgb.max() < 320
    assert rgb.std(axis=0).max() > 1.0, "textured, not flat"


def test_gabled_roof_splits_along_ridge() -> None:
    look = next(c.look for c in list_classes() if c.name == "house")
    px = _pixels(variant=1)
    rgb = render_texture(px, {**look, "lo_amp": 0, "mid_amp": 0, "hi_amp": 0})
    north, south = rgb[px.v > 0].mean(), rgb[px.v < 0].mean()
    assert abs(north - south) > 10
    flat = render_texture(_pixels(variant=0), {**look, "lo_amp": 0, "mid_amp": 0, "hi_amp": 0})
    inner = (np.abs(px.u) < 45) & (np.abs(px.v) < 20)
    assert flat[inner].std(axis=0).max() < 1e-3
