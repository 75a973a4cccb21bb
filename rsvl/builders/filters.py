"""Dataset-wide filters run after the partitions: near-duplicate chips and CLIP-score ranking.

Both run in one process over the records in key order, so which chip survives never depends
on the partitioning or on the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from rsvl.data.records import Record
from rsvl.errors import ConfigError

DUPLICATE_FOOTPRINT = "duplicate_footprint"
DUPLICATE_PIXELS = "duplicate_pixels"
CLIP_FILTERED = "clip_score_below_cut"


def remove_near_duplicates(records: Sequence[Record], max_iou: float
                           ) -> tuple[list[Record], dict[str, str]]:
    """Drop chips whose footprint overlaps a kept chip by more than ``max_iou``, or whose
    pixels are identical to a kept chip's.

    Args:
        records: Candidate records, in the order of preference (earlier ones are kept).
        max_iou: Intersection over union above which two chips are near-duplicates
            (footprints in the same CRS; chips in different CRSs are never compared).

    Returns:
        The kept records, and the rejection reason per dropped key.
    """
    footprints = np.array([r.footprint or [0.0, 0.0, 0.0, 0.0] for r in records],
                          dtype=np.float64).reshape(-1, 4)
    boxes = shapely.box(*footprints.T)
    boxes[[not r.footprint for r in records]] = shapely.Point()
    # All overlapping pairs from one tree query and their IoUs in one go (per-record queries
    # and per-pair arithmetic cost more than the rest of the stage); then, per record, the
    # records in its CRS it would be a near-duplicate of if they are kept.
    first, second = shapely.STRtree(boxes).query(boxes, predicate="intersects")
    close = _iou(footprints[first], footprints[second]) > max_iou
    near: list[list[int]] = [[] for _ in records]
    for a, b in zip(first[close].tolist(), second[close].tolist(), strict=True):
        if records[a].crs == records[b].crs:
            near[a].append(b)
    kept: list[Record] = []
    kept_index: set[int] = set()
    seen_pixels: set[str] = set()
    dropped: dict[str, str] = {}
    for index, record in enumerate(records):
        pixels = record.extra.get("pixel_sha256")
        if pixels is not None and pixels in seen_pixels:
            dropped[record.key] = DUPLICATE_PIXELS
            continue
        if any(other in kept_index for other in near[index]):
            dropped[record.key] = DUPLICATE_FOOTPRINT
            continue
        kept.append(record)
        kept_index.add(index)
        if pixels is not None:
            seen_pixels.add(pixels)
    return kept, dropped


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
