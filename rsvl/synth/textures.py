"""Procedural textures: how each class looks from above.

A texture is a function ``(pixels, look) -> rgb`` over the pixels of one class, where
``pixels`` carries each pixel's local coordinates in its feature's frame (``u`` along the
feature's long axis, ``v`` across it, metres from its centre; for lines ``u`` runs along the
segment and ``v`` is the signed offset from the centreline), per-feature random numbers and
shared noise samples, and ``look`` is the class's parameters from ``classes.json``. The
``TEXTURES`` registry maps the names used there to the functions.

Periodic patterns are box-filtered over one pixel (``_bands``, ``_line``) so that stripes
finer than the ground sampling distance average out instead of aliasing into moiré.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from rsvl.synth.noise import hash01

# Sun from the north-west, as in most northern-hemisphere morning orthophotos.
SUN = np.array([-0.6, 0.8], dtype=np.float32)


@dataclass
class Pixels:
    """Per-pixel inputs of a texture (all arrays have one entry per pixel)."""

    u: np.ndarray
    v: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    a: np.ndarray
    b: np.ndarray
    rand: np.ndarray
    variant: np.ndarray
    fid: np.ndarray
    framed: np.ndarray
    lo: np.ndarray
    mid: np.ndarray
    hi: np.ndarray
    gsd_m: float

    def subset(self, keep: np.ndarray) -> Pixels:
        """The same inputs restricted to the pixels where ``keep`` is true."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return Pixels(**{k: (v if k == "gsd_m" else v[keep]) for k, v in values.items()})


Texture = Callable[[Pixels, Mapping[str, Any]], np.ndarray]


def _rgb(color: Any) -> np.ndarray:
    return np.asarray(color, dtype=np.float32)


def _brightness(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Multiplicative brightness from the shared noise fields and a per-feature jitter."""
    value = (
        1.0
        + look.get("lo_amp", 0.0) * px.lo
        + look.get("mid_amp", 0.0) * px.mid
        + look.get("hi_amp", 0.0) * px.hi
        + look.get("jitter", 0.0) * (px.rand - 0.5) * 2.0
    )
    return value.astype(np.float32)


def _bands(x: np.ndarray, period: float, duty: float, gsd_m: float) -> np.ndarray:
    """Fraction of a one-pixel window around ``x`` inside bands [k*period, (k+duty)*period)."""

    def covered(t: np.ndarray) -> np.ndarray:
        return np.floor(t / period) * duty * period + np.minimum(np.mod(t, period), duty * period)

    half = gsd_m / 2.0
    return ((covered(x + half) - covered(x - half)) / gsd_m).astype(np.float32)


def _line(dist: np.ndarray, half_width: float, gsd_m: float) -> np.ndarray:
    """Fraction of a one-pixel window around ``dist`` covered by the band |d| < half_width."""
    half = gsd_m / 2.0
    lo = np.maximum(dist - half, -half_width)
    hi = np.minimum(dist + half, half_width)
    return (np.clip(hi - lo, 0.0, None) / gsd_m).astype(np.float32)


def _blend(base: np.ndarray, color: Any, weight: np.ndarray) -> np.ndarray:
    weight = np.clip(weight, 0.0, 1.0)[:, None]
    return base * (1.0 - weight) + _rgb(color) * weight


def _world(px: Pixels, du: np.ndarray, dv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate a local (u, v) direction into world (east, north)."""
    return du * px.cos - dv * px.sin, du * px.sin + dv * px.cos


def flat(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """One colour."""
    return np.broadcast_to(_rgb(look["color"]), (px.u.size, 3)).copy()


def noise(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """A colour modulated by noise; ``veins`` darkens crack lines, ``stain`` dark patches."""
    bright = _brightness(px, look)
    bright -= look.get("veins", 0.0) * np.clip(1.0 - np.abs(px.mid) / 0.12, 0.0, 1.0)
    bright -= look.get("stain", 0.0) * np.clip(px.lo - 1.0, 0.0, 1.0)
    return _rgb(look["color"]) * bright[:, None]


def mottled(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Patches of several colours chosen by thresholds on smooth noise."""
    field = 0.5 + 0.22 * (0.7 * px.lo + 0.7 * px.mid)
    index = np.digitize(field, look["thresholds"])
    return _rgb(look["colors"])[index] * _brightness(px, look)[:, None]


def rows(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Crop rows along the field's axis; each field has its own crop colour."""
    palette = _rgb(look["palette"])
    color = palette[(px.rand * len(palette)).astype(int) % len(palette)]
    row = _bands(px.v, look["spacing_m"], look["duty"], px.gsd_m)
    bright = _brightness(px, {**look, "jitter": 0.0}) + look["contrast"] * (row - 0.5)
    return color * bright[:, None]


def canopy(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Tree crowns on a (jittered) grid, shaded by the sun, over a ground texture."""
    ground = look["ground"]
    base = (
        render_texture(px, ground)
        if isinstance(ground, Mapping)
        else _rgb(ground) * _brightness(px, look)[:, None]
    )
    cell = float(look["cell_m"])
    gu, gv = np.floor(px.u / cell), np.floor(px.v / cell)
    fu, fv = px.u / cell - gu, px.v / cell - gv
    present = hash01(gu, gv, px.fid, salt=1) < look["density"]
    radius = look["r_min"] + (look["r_max"] - look["r_min"]) * hash01(gu, gv, px.fid, salt=2)
    slack = (1.0 - 2.0 * radius) * look["jitter"]
    cu = 0.5 + slack * (hash01(gu, gv, px.fid, salt=3) - 0.5)
    cv = 0.5 + slack * (hash01(gu, gv, px.fid, salt=4) - 0.5)
    du, dv = (fu - cu) / radius, (fv - cv) / radius
    dist2 = du * du + dv * dv
    inside = present & (dist2 < 1.0)
    east, north = _world(px, du, dv)
    height = np.sqrt(np.clip(1.0 - dist2, 0.0, 1.0))
    lit = look["shade"] * (east * SUN[0] + north * SUN[1]) * 0.5 + 0.35 * height
    tint = 1.0 + look["color_jitter"] * (hash01(gu, gv, px.fid, salt=5) - 0.5)
    crown = _rgb(look["color"]) * ((0.8 + lit) * tint * (1.0 + 0.08 * px.hi))[:, None]
    return np.where(inside[:, None], crown, base)


def stripes(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Vine rows: narrow leafy rows over bare soil."""
    row = _bands(px.v, look["spacing_m"], look["duty"], px.gsd_m)
    leafy = np.clip(row * (1.0 + 0.5 * px.mid), 0.0, 1.0)
    return (
        _blend(_rgb(look["ground"])[None, :], look["color"], leafy) * _brightness(px, look)[:, None]
    )


def ripples(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Water: dark blue with wind ripples and slow brightness changes."""
    phase = 2.0 * np.pi * (0.8 * px.u + 0.6 * px.v) / look["wavelength_m"] + 1.5 * px.mid
    bright = _brightness(px, look) + look["ripple"] * np.sin(phase)
    return _rgb(look["color"]) * bright[:, None]


def paving(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Paved ground with a grid of joints."""
    period, joint = look["period_m"], look["joint_m"] / look["period_m"]
    grid = np.maximum(_bands(px.u, period, joint, px.gsd_m), _bands(px.v, period, joint, px.gsd_m))
    base = np.broadcast_to(_rgb(look["color"]), (px.u.size, 3))
    return _blend(base, look["joint"], grid) * _brightness(px, look)[:, None]


def stones(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Cemetery: a grid of small headstones on grass, crossed by gravel paths."""
    stone_u = _bands(
        px.u + look["stone_u_m"] / 2,
        look["cell_u_m"],
        look["stone_u_m"] / look["cell_u_m"],
        px.gsd_m,
    )
    stone_v = _bands(
        px.v + look["stone_v_m"] / 2,
        look["cell_v_m"],
        look["stone_v_m"] / look["cell_v_m"],
        px.gsd_m,
    )
    path = _bands(px.v, look["path_period_m"], look["path_m"] / look["path_period_m"], px.gsd_m)
    base = np.broadcast_to(_rgb(look["color"]), (px.u.size, 3))
    out = _blend(base, look["stone"], stone_u * stone_v * (1.0 - path))
    return _blend(out, look["path"], path) * _brightness(px, look)[:, None]


def pitch(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """A sports pitch: mown stripes, boundary, halfway line and centre circle in white."""
    mown = _bands(px.u, look["stripe_m"], 0.5, px.gsd_m)
    bright = _brightness(px, look) + look["stripe"] * (mown - 0.5)
    base = _rgb(look["color"]) * bright[:, None]
    half = look["line_m"] / 2
    au, bv = px.a - look["margin_m"], px.b - look["margin_m"]
    inside = (np.abs(px.u) <= au + half) & (np.abs(px.v) <= bv + half)
    lines = np.maximum.reduce(
        [
            _line(np.abs(px.u) - au, half, px.gsd_m),
            _line(np.abs(px.v) - bv, half, px.gsd_m),
            _line(px.u, half, px.gsd_m),
            _line(np.hypot(px.u, px.v) - look["circle_m"], half, px.gsd_m),
        ]
    )
    return _blend(base, look["line"], lines * inside)


def golf(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Golf course: striped fairways, darker rough and sand bunkers."""
    mown = _bands(px.u, look["stripe_m"], 0.5, px.gsd_m)
    bright = _brightness(px, look) + look["stripe"] * (mown - 0.5)
    fairway = _rgb(look["color"]) * bright[:, None]
    rough = px.lo > 0.6
    bunker = (px.mid > 1.7) & ~rough
    out = np.where(rough[:, None], _rgb(look["rough"]) * bright[:, None], fairway)
    return np.where(bunker[:, None], _rgb(look["sand"]) * (1.0 + 0.04 * px.hi)[:, None], out)


def stadium(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Stadium: rows of stands around a running track around a grass field."""
    radius = 0.45 * px.b
    du = np.clip(np.abs(px.u) - (px.a - radius), 0.0, None)
    dv = np.clip(np.abs(px.v) - (px.b - radius), 0.0, None)
    depth = radius - np.hypot(du, dv)  # distance inwards from the outer edge
    stands_m = 0.45 * radius
    rows_ = _bands(depth, look["row_m"], 0.5, px.gsd_m)
    stands = _rgb(look["stands"]) * (0.9 + 0.15 * rows_)[:, None]
    track = (depth >= stands_m) & (depth < stands_m + look["track_m"])
    field = depth >= stands_m + look["track_m"]
    out = np.where(track[:, None], _rgb(look["track"])[None, :], stands)
    out = np.where(field[:, None], _rgb(look["field"])[None, :], out)
    return out * _brightness(px, look)[:, None]


def parking(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Car park: rows of marked stalls along aisles, some stalls holding a car."""
    stall, depth, aisle = look["stall_m"], look["depth_m"], look["aisle_m"]
    period = 2 * depth + aisle
    row_pos = np.mod(px.v, period)
    in_stalls = row_pos < 2 * depth
    lines = _line(np.mod(px.u + stall / 2, stall) - stall / 2, look["line_m"], px.gsd_m) * in_stalls
    base = _rgb(look["color"]) * _brightness(px, look)[:, None]
    out = _blend(base, look["line"], lines)
    slot_u, slot_v = np.floor(px.u / stall), np.floor(px.v / depth)
    within_u = np.abs(np.mod(px.u, stall) - stall / 2) < 0.9
    within_v = np.abs(np.mod(row_pos, depth) - depth / 2) < 2.1
    parked = (
        in_stalls
        & within_u
        & within_v
        & (hash01(slot_u, slot_v, px.fid, salt=7) < look["occupancy"])
    )
    cars = _rgb(look["cars"])
    color = cars[(hash01(slot_u, slot_v, px.fid, salt=8) * len(cars)).astype(int)]
    return np.where(parked[:, None], color * (1.0 + 0.05 * px.hi)[:, None], out)


def runway(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Runway: centreline dashes, edge lines and threshold bars near both ends."""
    base = _rgb(look["color"]) * _brightness(px, look)[:, None]
    half = look["line_m"] / 2
    period = look["dash_m"] + look["gap_m"]
    centre = _line(px.v, half, px.gsd_m) * _bands(px.u, period, look["dash_m"] / period, px.gsd_m)
    edges = _line(np.abs(px.v) - (px.b - 1.5), half, px.gsd_m)
    near_end = (
        (np.abs(px.u) > px.a - 36.0) & (np.abs(px.u) < px.a - 6.0) & (np.abs(px.v) < px.b - 3.0)
    )
    keys = _bands(px.v, 2 * look["key_m"], 0.5, px.gsd_m) * near_end
    return _blend(base, look["line"], np.maximum.reduce([centre, edges, keys]))


def tarmac(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Road surface with solid and dashed lane lines (offsets as fractions of half width)."""
    base = _rgb(look["color"]) * _brightness(px, look)[:, None]
    half_width = px.b
    across = np.abs(px.v)
    half = look["line_m"] / 2
    period = look["dash_m"] + look["gap_m"]
    dashes = _bands(px.u, period, look["dash_m"] / period, px.gsd_m)
    marks = np.zeros(px.u.size, np.float32)
    for offset in look["solid_at"]:
        marks = np.maximum(marks, _line(across - offset * half_width, half, px.gsd_m))
    for offset in look["dashed_at"]:
        marks = np.maximum(marks, _line(across - offset * half_width, half, px.gsd_m) * dashes)
    out = _blend(base, look["line"], marks * px.framed)
    median = (across < look["median_m"] / 2) & px.framed.astype(bool)
    return np.where(median[:, None], _rgb(look["median"]) * _brightness(px, look)[:, None], out)


def track(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Unpaved track: two wheel ruts with grass between them."""
    base = _rgb(look["color"]) * _brightness(px, look)[:, None]
    ruts = _line(np.abs(px.v) - look["rut_at_m"], look["rut_m"], px.gsd_m) * px.framed
    grass = _line(px.v, 0.3, px.gsd_m) * px.framed
    return _blend(_blend(base, look["rut"], ruts), look["grass"], 0.7 * grass)


def rail(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Railway: ballast bed, sleepers across the track and two steel rails."""
    base = _rgb(look["color"]) * _brightness(px, look)[:, None]
    period = look["sleeper_period_m"]
    sleepers = _bands(px.u, period, 0.5, px.gsd_m) * _line(px.v, look["sleeper_m"], px.gsd_m)
    rails = _line(np.abs(px.v) - look["rail_at_m"], look["rail_m"] / 2, px.gsd_m)
    out = _blend(base, look["sleeper"], sleepers * px.framed)
    return _blend(out, look["rail"], rails * px.framed)


def roof(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Roofs: per-building colour; flat ones uniform with a parapet, pitched ones shaded by facet.

    ``variant`` is the roof shape: 0 flat, 1 gabled (ridge along the long axis), 2 hipped.
    """
    palette = _rgb(look["palette"])
    color = palette[(px.rand * 997).astype(int) % len(palette)]
    bright = _brightness(px, look)
    ridge_half = np.clip(px.a - px.b, 0.0, None)
    end_facet = (px.variant == 2) & (np.abs(px.u) - ridge_half > np.abs(px.v))
    normal_u = np.where(end_facet, np.sign(px.u), 0.0)
    normal_v = np.where(end_facet, 0.0, np.where(px.v >= 0, 1.0, -1.0))
    east, north = _world(px, normal_u, normal_v)
    facing = east * SUN[0] + north * SUN[1]
    # Facets side-on to the sun would look flat: keep at least a visible split along the ridge.
    facing = np.where(
        np.abs(facing) < 0.45, np.where(normal_v + normal_u >= 0, 0.45, -0.45), facing
    )
    pitched = px.variant > 0
    bright = bright + np.where(pitched, look["sun_contrast"] * facing, 0.0)
    parapet = (~pitched) & ((np.abs(px.u) > px.a - 1.0) | (np.abs(px.v) > px.b - 1.0))
    bright = bright - 0.12 * parapet
    return color * bright[:, None]


TEXTURES: dict[str, Texture] = {
    "flat": flat,
    "noise": noise,
    "mottled": mottled,
    "rows": rows,
    "canopy": canopy,
    "stripes": stripes,
    "ripples": ripples,
    "paving": paving,
    "stones": stones,
    "pitch": pitch,
    "golf": golf,
    "stadium": stadium,
    "parking": parking,
    "runway": runway,
    "tarmac": tarmac,
    "track": track,
    "rail": rail,
    "roof": roof,
}


def list_textures() -> list[str]:
    """Names of the textures ``classes.json`` may use."""
    return sorted(TEXTURES)


def render_texture(px: Pixels, look: Mapping[str, Any]) -> np.ndarray:
    """Colours (float RGB, one row per pixel) of ``px`` under ``look``."""
    return TEXTURES[look["texture"]](px, look).astype(np.float32)
