"""Dataset-wide filters: near-duplicate chips, split safety and CLIP-score ranking.

All run in one process over the chips in key order, so which chip survives never depends on
the partitioning or on the number of workers. Near-duplicates and split safety need only the
chips' footprints, so the caption build runs them (:func:`select_chips`) before reading any
window; the CLIP-score cut needs the written chips and runs last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from rsvl.builders.splits import (
    NEAR_OTHER_SPLIT,
    SplitPlan,
    SplitRule,
    decide_splits,
    plan_splits,
)
from rsvl.data.records import Record
from rsvl.errors import ConfigError

DUPLICATE_FOOTPRINT = "duplicate_footprint"
DUPLICATE_PIXELS = "duplicate_pixels"
CLIP_FILTERED = "clip_score_below_cut"


def near_duplicates(footprints: Sequence[Sequence[float] | None], crss: Sequence[str | None],
                    pixels: Sequence[str | None], max_iou: float) -> dict[int, str]:
    """Greedy near-duplicate removal in the given order: which chips to drop, and why.

    A chip is dropped when its footprint overlaps a kept chip's (same CRS) by more than
    ``max_iou``, or its pixel hash equals a kept chip's (``None``: not known, never equal).

    Returns:
        Index -> rejection reason of the dropped chips.
    """
    footprints_array = np.array([f or [0.0, 0.0, 0.0, 0.0] for f in footprints],
                                dtype=np.float64).reshape(-1, 4)
    boxes = shapely.box(*footprints_array.T)
    boxes[[not f for f in footprints]] = shapely.Point()
    # All overlapping pairs from one tree query and their IoUs in one go (per-record queries
    # and per-pair arithmetic cost more than the rest of the stage); then, per chip, the
    # chips in its CRS it would be a near-duplicate of if they are kept.
    first, second = shapely.STRtree(boxes).query(boxes, predicate="intersects")
    close = _iou(footprints_array[first], footprints_array[second]) > max_iou
    near: list[list[int]] = [[] for _ in footprints]
    for a, b in zip(first[close].tolist(), second[close].tolist(), strict=True):
        if crss[a] == crss[b]:
            near[a].append(b)
    kept_index: set[int] = set()
    seen_pixels: set[str] = set()
    dropped: dict[int, str] = {}
    for index, hashed in enumerate(pixels):
        if hashed is not None and hashed in seen_pixels:
            dropped[index] = DUPLICATE_PIXELS
            continue
        if any(other in kept_index for other in near[index]):
            dropped[index] = DUPLICATE_FOOTPRINT
            continue
        kept_index.add(index)
        if hashed is not None:
            seen_pixels.add(hashed)
    return dropped


def remove_near_duplicates(records: Sequence[Record], max_iou: float
                           ) -> tuple[list[Record], dict[str, str]]:
    """Drop chips whose footprint overlaps a kept chip's by more than ``max_iou``, or whose
    pixels are identical to a kept chip's.

    Args:
        records: Candidate records, in the order of preference (earlier ones are kept).
        max_iou: Intersection over union above which two chips are near-duplicates
            (footprints in the same CRS; chips in different CRSs are never compared).

    Returns:
        The kept records, and the rejection reason per dropped key.
    """
    dropped = near_duplicates([r.footprint for r in records], [r.crs for r in records],
                              [r.extra.get("pixel_sha256") for r in records], max_iou)
    kept = [r for i, r in enumerate(records) if i not in dropped]
    return kept, {records[i].key: reason for i, reason in dropped.items()}


@dataclass
class Candidate:
    """A framed chip, before its pixels are read.

    Attributes:
        key: Its record key (candidates are decided in key order).
        footprint: ``(minx, miny, maxx, maxy)`` in ``crs``.
        crs: The imagery CRS.
        grid: The footprint's bounds in the split grid's CRS.
    """

    key: str
    footprint: list[float]
    crs: str
    grid: list[float]


@dataclass
class Selection:
    """Which candidates a build keeps, before or after their pixels are known.

    Attributes:
        kept: Keys of the kept candidates, in key order.
        splits: Key -> split of every candidate.
        dropped: Key -> reason of the candidates dropped as near-duplicates or for split safety.
        report: The manifest's ``split`` section.
    """

    kept: list[str]
    splits: dict[str, str]
    dropped: dict[str, str]
    report: dict[str, Any] = field(default_factory=dict)


def select_chips(candidates: Sequence[Candidate], pixels: Mapping[str, str], max_iou: float,
                 rule: SplitRule, seed: int, plan: SplitPlan | None = None) -> Selection:
    """Near-duplicates and split safety over all candidates: what to keep (and so to read).

    Candidates whose pixels are not read yet count as valid and unique; the caller reads the
    kept ones it has not read, drops those its pixel checks reject and selects again, until
    every kept candidate has been read. The outcome is then the same as reading everything
    first (a chip is only ever suppressed by a kept one), with one read per kept chip.

    Args:
        candidates: Framed chips not rejected for their pixels, in key order.
        pixels: Key -> pixel hash of the candidates read so far.
        max_iou: Footprint IoU above which a chip is a near-duplicate of a kept one.
        rule: The split rule.
        seed: Seed of the split cells.
        plan: The split plan when the caller made it (from all framed chips, so that the
            splits do not change as pixel checks reject some); default from ``candidates``.
    """
    duplicates = near_duplicates([c.footprint for c in candidates],
                                 [c.crs for c in candidates],
                                 [pixels.get(c.key) for c in candidates], max_iou)
    grid = np.array([c.grid for c in candidates], dtype=np.float64).reshape(-1, 4)
    plan = plan_splits(grid, rule, seed) if plan is None else plan
    all_splits = plan.assign(grid)[0]
    survivors = [i for i in range(len(candidates)) if i not in duplicates]
    decision = decide_splits(grid[survivors], rule, seed, plan)
    dropped = {candidates[i].key: reason for i, reason in duplicates.items()}
    kept = []
    for index, drop in zip(survivors, decision.dropped, strict=True):
        if drop:
            dropped[candidates[index].key] = NEAR_OTHER_SPLIT
        else:
            kept.append(candidates[index].key)
    splits = {c.key: split for c, split in zip(candidates, all_splits, strict=True)}
    report = decision.report
    return Selection(kept, splits, dropped, report)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row, the intersection over union of two ``N x 4`` arrays of boxes.

    Footprints are axis-aligned boxes: arithmetic is exact and far cheaper than overlays.
    """
    overlap = (np.maximum(0.0, np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]))
               * np.maximum(0.0, np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])))
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union -= overlap
    return np.divide(overlap, union, out=np.zeros_like(overlap), where=union != 0)


def keep_top_fraction(records: Sequence[Record], scores: Sequence[float], keep_top: float
                      ) -> tuple[list[Record], dict[str, str]]:
    """Keep the ``keep_top`` fraction of records with the highest image-text scores.

    Ties are broken by key so the cut is deterministic; the kept records stay in their order.

    Returns:
        The kept records, and the rejection reason per dropped key.
    """
    if not 0 < keep_top <= 1:
        raise ConfigError(f"--keep-top must be in (0, 1], got {keep_top}")
    count = round(len(records) * keep_top)
    ranked = sorted(range(len(records)), key=lambda i: (-scores[i], records[i].key))
    chosen = set(ranked[:count])
    kept = [r for i, r in enumerate(records) if i in chosen]
    dropped = {r.key: CLIP_FILTERED for i, r in enumerate(records) if i not in chosen}
    return kept, dropped
