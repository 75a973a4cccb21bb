"""Dataset-wide filters run after the partitions: near-duplicate chips and CLIP-score ranking.

Both run in one process over the records in key order, so which chip survives never depends
on the partitioning or on the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    boxes = [shapely.box(*r.footprint) if r.footprint else shapely.Point() for r in records]
    tree = shapely.STRtree(boxes)
    footprints = [r.footprint or [0.0, 0.0, 0.0, 0.0] for r in records]
    kept: list[Record] = []
    kept_index: set[int] = set()
    seen_pixels: set[str] = set()
    dropped: dict[str, str] = {}
    for index, record in enumerate(records):
        pixels = record.extra.get("pixel_sha256")
        if pixels is not None and pixels in seen_pixels:
            dropped[record.key] = DUPLICATE_PIXELS
            continue
        if any(
            records[other].crs == record.crs
            and _iou(footprints[index], footprints[other]) > max_iou
            for other in tree.query(boxes[index], predicate="intersects").tolist()
            if other in kept_index
        ):
            dropped[record.key] = DUPLICATE_FOOTPRINT
            continue
        kept.append(record)
        kept_index.add(index)
        if pixels is not None:
            seen_pixels.add(pixels)
    return kept, dropped


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    # Footprints are axis-aligned boxes: arithmetic is exact and far cheaper than overlays
    # (and than asking shapely for the boxes' bounds again).
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    overlap = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - overlap
    return overlap / union if union else 0.0


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
