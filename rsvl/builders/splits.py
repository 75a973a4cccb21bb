"""Spatially blocked splits that keep chips: grid cells hashed to train/val/test, and a guard.

The grid lives in Web Mercator (``EPSG:3857``) so that chips cut from different imagery
sources over the same ground fall into the same cells. A chip takes the split of the cell
holding its centre, so a chip larger than a cell, or one crossing a cell edge, still has one
split. Then one pass over all the chips a build keeps drops chips until no two chips of
different splits come closer than a guard band (default 0 m: they may touch, never overlap),
losing few chips and keeping the splits' shares (:func:`guard_conflicts`), so no pixel of a
held-out chip lies in a training chip. A band of the chips' size (``guard_m=None``) also keeps
them a chip apart, at a measured cost: 47-81 % of the chips kept on the shared regions instead
of 91-93 % (bench/split_keep.py).

The default cell side is chosen from the data (:func:`auto_cell_size`): a multiple of the
median chip side that gives every asked split at least half its share of the chips, keeps
:data:`AUTO_KEEP` of them through the guard pass and best follows the asked fractions, so a
region of large zoomed-out chips gets large cells and a region of houses small ones. Where no
cell side does all three (a region a few chips wide), each held-out split is instead one
region grown through the chips (:mod:`rsvl.builders.held_out`) when that follows the rule
better (:func:`plan_splits`).
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rsvl.data.records import SPLITS
from rsvl.errors import ConfigError

GRID_CRS = "EPSG:3857"
NEAR_OTHER_SPLIT = "near_other_split"
# A held-out chip of an evaluation set cut from the same ground as a caption build, sharing
# pixels with one of that build's training chips (the model saw them).
OVERLAPS_TRAINING = "overlaps_training_chip"
# The automatic cell side is one of these multiples of the median chip side, keeping
# AUTO_KEEP of the chips through the guard pass (bench/split_keep.py measures it).
AUTO_CELL_CHIPS = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 20.0, 24.0, 32.0, 48.0,
                   64.0)
AUTO_KEEP = 0.9
# Of two chips with as many conflicts, the held-out one is kept: test over val over train.
PRIORITY = ("test", "val", "train")
Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class SplitRule:
    """How a build assigns chips to train/val/test (one rule for every builder).

    Attributes:
        cell_m: Side of the split grid cells in Web Mercator metres; ``None`` chooses it from
            the chips (a multiple of their median side that gives every asked split at least
            half its share and keeps 90 % of the chips, the one whose splits best follow the
            fractions), or grows one region per held-out split where no side does
            (:func:`plan_splits`); the manifest records which.
        fractions: Train/val/test fractions of the cells.
        guard_m: Least gap between chips of different splits, Web Mercator metres (0: they
            may touch but share no pixel); ``None``: the mean side of the two chips.
    """

    cell_m: float | None = None
    fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
    guard_m: float | None = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fractions", check_fractions(self.fractions))
        if self.cell_m is not None and not (self.cell_m > 0 and math.isfinite(self.cell_m)):
            raise ConfigError(f"split cell size must be a positive number of metres, got "
                              f"{self.cell_m} (leave it unset to choose it from the chips)")
        if self.guard_m is not None and not self.guard_m >= 0:
            raise ConfigError(f"split guard must be a non-negative number of metres, got "
                              f"{self.guard_m}")


@dataclass
class SplitDecision:
    """The splits of a build's chips.

    Attributes:
        splits: Per chip, its split (that of the cell holding its centre).
        dropped: Per chip, whether it is dropped for coming too close to another split's chip.
        report: The manifest's ``split`` section.
        overlapping_training: Per chip, whether it is kept, held out and shares pixels with a
            training chip of the build :func:`decide_splits` was told to exclude (all false
            without one): evaluation sets leave these out too.
    """

    splits: list[str]
    dropped: list[bool]
    report: dict[str, Any] = field(default_factory=dict)
    overlapping_training: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class SplitPlan:
    """How a build's chips get their splits, fixed once from all the chips it frames so that
    chips read in later rounds (or rejected for their pixels) do not move the others.

    Attributes:
        cell_m: The cell side (``method="cells"``), or the side the cells would have had.
        seed: Seed of the cell hash.
        fractions: Train/val/test fractions.
        method: ``"cells"`` (each chip takes its centre cell's split) or
            ``"held_out_regions"`` (each held-out split one region grown through the chips,
            :mod:`rsvl.builders.held_out`, chosen when cells cannot keep :data:`AUTO_KEEP`).
        planned: For held-out regions, the planned chips' footprints, splits and whether
            each is dropped (a region's boundary).
    """

    cell_m: float
    seed: int
    fractions: tuple[float, ...]
    method: str = "cells"
    planned: tuple[np.ndarray, tuple[str, ...], tuple[bool, ...]] | None = None

    def assign(self, boxes: np.ndarray) -> tuple[list[str], list[bool]]:
        """Per chip (``N x 4``, grid CRS) its split, and whether the plan drops it.

        A chip the plan did not see (a near-duplicate kept once its twin was rejected) takes
        the split of the planned chip it overlaps most, or else of the nearest.
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if self.planned is None:
            return centre_splits(boxes, self.cell_m, self.seed, self.fractions), [False] * len(
                boxes)
        planned, splits, dropped = self.planned
        where = {tuple(box): index for index, box in enumerate(planned.tolist())}
        chosen = [where.get(tuple(box), -1) for box in boxes.tolist()]
        centres = (planned[:, :2] + planned[:, 2:]) / 2
        for position, index in enumerate(chosen):
            if index < 0:
                overlap = _overlap(planned, boxes[position])
                centre = (boxes[position, :2] + boxes[position, 2:]) / 2
                distance = np.linalg.norm(centres - centre, axis=1)
                chosen[position] = int(np.lexsort((distance, -overlap))[0])
        return [splits[i] for i in chosen], [dropped[i] for i in chosen]

    def report(self, rule: SplitRule, splits: Sequence[str], dropped: Sequence[bool]
               ) -> dict[str, Any]:
        """The manifest's ``split`` section for chips with these splits and drops."""
        report = split_cell_report(self.cell_m, rule, splits, dropped)
        report["method"] = self.method
        if self.method != "cells":
            report["cell_m_chosen"] = (
                f"not used: no cell side gave every split half its share and kept "
                f">= {AUTO_KEEP:.0%} of the chips, so each held-out split is one region grown "
                "through the chips (rsvl.builders.held_out)")
        return report


def _overlap(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Overlap area of each of ``boxes`` with ``box``."""
    return (np.maximum(0.0, np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0]))
            * np.maximum(0.0, np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1])))


def plan_splits(boxes: np.ndarray, rule: SplitRule, seed: int,
                kinds: Sequence[str | None] | None = None) -> SplitPlan:
    """The split plan for chips ``boxes`` (``N x 4``, grid CRS), and what each shows
    (``kinds``: its focus object's OSM key; grown regions then hold about the same mix).

    A given cell side is used as it is. Otherwise the automatic cells
    (:func:`auto_cell_size`) are used if they give every asked split at least half its share
    and keep :data:`AUTO_KEEP` of the chips (cells spread held-out chips over the region); if
    not, held-out regions grown through the chips
    (:func:`rsvl.builders.held_out.grow_held_out`) replace them when their kept chips follow
    the rule better (the same :func:`_score`).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    fractions = tuple(rule.fractions)
    if rule.cell_m is not None:
        return SplitPlan(float(rule.cell_m), seed, fractions)
    score, cell = _best_cells(boxes, rule, seed)
    cells = SplitPlan(cell, seed, fractions)
    if all(score[:3]) or len(boxes) < 2:
        return cells  # cells spread the held-out chips over the region: preferred
    from rsvl.builders.held_out import grow_held_out

    neighbours = _neighbours(boxes, rule.guard_m)
    best: tuple[Score, SplitPlan] = (score, cells)
    for share in (1.0, 0.9, 0.8, 0.7):  # the shares are of the chips kept, unknown before
        splits, dropped = grow_held_out(boxes, neighbours, fractions,
                                        max(1, round(share * len(boxes))), kinds)
        grown = _score(splits, dropped, rule)
        if grown > best[0]:
            best = (grown, SplitPlan(cell, seed, fractions, "held_out_regions",
                                     (boxes.copy(), tuple(splits), tuple(dropped))))
    return best[1]


def decide_splits(boxes: np.ndarray, rule: SplitRule, seed: int,
                  plan: SplitPlan | None = None,
                  exclude_training: str | Path | None = None) -> SplitDecision:
    """Assign chips to splits and drop those too close to a chip of another split.

    Args:
        boxes: ``N x 4`` chip footprints in :data:`GRID_CRS`.
        rule: The split rule.
        seed: Seed of the cell hash.
        plan: The plan to follow (default: :func:`plan_splits` of these chips).
        exclude_training: A built dataset over the same ground (a caption build): its
            training chips mark the held-out chips sharing their pixels
            (:attr:`SplitDecision.overlapping_training`, :func:`training_boxes`).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    plan = plan_splits(boxes, rule, seed) if plan is None else plan
    splits, dropped = plan.assign(boxes)
    rest = [i for i, drop in enumerate(dropped) if not drop]
    close = guard_conflicts(boxes[rest], [splits[i] for i in rest], rule.guard_m,
                            rule.fractions)
    for index, drop in zip(rest, close, strict=True):
        dropped[index] = drop
    seen = ([False] * len(boxes) if not exclude_training else
            [leak and not drop for leak, drop in zip(
                overlaps_training(boxes, splits, training_boxes(exclude_training)), dropped,
                strict=True)])
    return SplitDecision(splits, dropped, plan.report(rule, splits, dropped), seen)


@lru_cache(maxsize=16)
def _to_grid(crs: str) -> Any:
    # pyproj and shapely are imported where used: SplitRule is part of every build config, and
    # `rsvl build --help` must stay light.
    from pyproj import CRS, Transformer

    if CRS.from_user_input(crs) == CRS.from_user_input(GRID_CRS):
        return None
    return Transformer.from_crs(CRS.from_user_input(crs), CRS.from_user_input(GRID_CRS),
                                always_xy=True)


def grid_boxes(boxes: Sequence[Sequence[float]], crs: str) -> np.ndarray:
    """``N x 4`` bounds of chip footprints in :data:`GRID_CRS`, in one reprojection.

    Each edge is densified (21 points, as :func:`rsvl.imagery.geo.transform_bounds`) so the
    box encloses the reprojected chip: chips apart in the grid CRS are apart on the ground.
    """
    corners = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    transformer = _to_grid(crs)
    if transformer is None or not len(corners):
        return corners
    t = np.linspace(0.0, 1.0, 21)
    minx, miny, maxx, maxy = (corners[:, i:i + 1] for i in range(4))
    ones = np.ones_like(t)
    xs = np.hstack([minx + (maxx - minx) * t, maxx * ones, maxx - (maxx - minx) * t, minx * ones])
    ys = np.hstack([miny * ones, miny + (maxy - miny) * t, maxy * ones, maxy - (maxy - miny) * t])
    gx, gy = transformer.transform(xs.ravel(), ys.ravel())
    gx, gy = np.reshape(gx, xs.shape), np.reshape(gy, ys.shape)
    return np.stack([gx.min(axis=1), gy.min(axis=1), gx.max(axis=1), gy.max(axis=1)], axis=1)


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    """Validate split fractions (one per split in ``SPLITS`` order, summing to 1)."""
    values = tuple(float(f) for f in fractions)
    if len(values) != len(SPLITS) or any(f < 0 for f in values) or abs(sum(values) - 1) > 1e-6:
        raise ConfigError(
            f"split fractions {list(values)} are invalid: give {len(SPLITS)} non-negative "
            f"numbers for {'/'.join(SPLITS)} that sum to 1 (e.g. 0.8 0.1 0.1)"
        )
    return values


def cell_split(column: int, row: int, seed: int, fractions: Sequence[float]) -> str:
    """The split of grid cell ``(column, row)``: a seeded hash mapped onto the fractions."""
    digest = hashlib.sha256(f"{seed}:{column}:{row}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for split, fraction in zip(SPLITS, fractions, strict=True):
        cumulative += fraction
        if draw < cumulative:
            return split
    return SPLITS[-1]


def auto_cell_size(boxes: np.ndarray, rule: SplitRule, seed: int) -> float:
    """The default cell side for chips ``boxes`` (``N x 4``, grid CRS).

    Each of :data:`AUTO_CELL_CHIPS` x the median chip side is tried (up to the first that
    puts every chip in one cell). A size that leaves an asked split without chips loses to
    any that does not (a train-only "split" is no split), then one leaving an asked split
    under half its share (4 val chips of 277 is no validation set); then, of those whose
    guard pass keeps at least :data:`AUTO_KEEP`
    of the chips, the one whose kept chips best follow the asked fractions wins (the largest
    ``min(kept in split / fraction)`` over the splits asked for: the biggest dataset with
    exactly those shares that the chips hold), the smaller cell on a tie. Small cells give
    many cells (test chips from all over the region, shares close to the asked ones) but lose
    the chips near cells of another split; large ones lose few chips but leave few cells to
    share out. When no size keeps :data:`AUTO_KEEP`, the one keeping most chips wins.
    """
    return _best_cells(boxes, rule, seed)[1]


Score = tuple[bool, bool, bool, float, int]


def _score(splits: Sequence[str], dropped: Sequence[bool], rule: SplitRule) -> Score:
    """How well kept chips follow the rule, larger is better: every asked split has chips,
    each holds at least half its asked share of the kept chips, :data:`AUTO_KEEP` of the
    chips are kept, ``min(kept in split / fraction)``, chips kept."""
    kept = Counter(s for s, d in zip(splits, dropped, strict=True) if not d)
    total = sum(kept.values())
    asked = [(s, f) for s, f in zip(SPLITS, rule.fractions, strict=True) if f > 0]
    balanced = min(kept[s] / f for s, f in asked)
    shares = all(kept[s] >= f * total / 2 for s, f in asked)
    return (balanced > 0, shares, total >= AUTO_KEEP * len(splits), balanced, total)


def _best_cells(boxes: np.ndarray, rule: SplitRule, seed: int) -> tuple[Score, float]:
    """:func:`auto_cell_size` with its :func:`_score`."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return (False, True, True, 0.0, 0), 1.0
    median = float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    median = median if median > 0 else 1.0  # points only: any positive size
    best: tuple[Score, float] | None = None
    for factor in AUTO_CELL_CHIPS:
        cell = factor * median
        splits = centre_splits(boxes, cell, seed, rule.fractions)
        score = _score(splits, guard_conflicts(boxes, splits, rule.guard_m, rule.fractions),
                       rule)
        if best is None or score > best[0]:
            best = (score, cell)
        if len(_cells(boxes, cell)) == 1:
            break  # larger cells change nothing more
    assert best is not None
    return best


def _cells(boxes: np.ndarray, cell: float) -> set[tuple[int, int]]:
    """The cells holding the boxes' centres."""
    columns = np.floor((boxes[:, 0] + boxes[:, 2]) / 2 / cell).astype(np.int64).tolist()
    rows = np.floor((boxes[:, 1] + boxes[:, 3]) / 2 / cell).astype(np.int64).tolist()
    return set(zip(columns, rows, strict=True))


def centre_splits(boxes: np.ndarray, cell_size: float, seed: int,
                  fractions: Sequence[float]) -> list[str]:
    """The split of each box (``N x 4``, grid CRS): that of the cell holding its centre.

    Args:
        boxes: Chip footprints in :data:`GRID_CRS`.
        cell_size: Side of a grid cell in ``GRID_CRS`` units (Web Mercator metres).
        seed: Seed of the cell hash (the same seed gives the same cells everywhere).
        fractions: Train/val/test fractions.
    """
    if not cell_size > 0 or not math.isfinite(cell_size):
        raise ConfigError(f"split cell size must be a positive number, got {cell_size}")
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    columns = np.floor((boxes[:, 0] + boxes[:, 2]) / 2 / cell_size).astype(np.int64).tolist()
    rows = np.floor((boxes[:, 1] + boxes[:, 3]) / 2 / cell_size).astype(np.int64).tolist()
    cells: dict[tuple[int, int], str] = {}
    splits = []
    for cell in zip(columns, rows, strict=True):
        if cell not in cells:
            cells[cell] = cell_split(cell[0], cell[1], seed, fractions)
        splits.append(cells[cell])
    return splits


def close_pairs(boxes: np.ndarray, guard: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``i < j`` of chips (``N x 4``) closer than the guard band.

    The gap between two footprints is the larger of the x and y gaps (negative when they
    overlap); a pair is close when it is under ``guard`` units, or by default the mean of the
    two chips' sides. Candidates come from one tree query over the boxes grown by half their
    band, exact gaps from arithmetic on the boxes.
    """
    import shapely

    if guard is not None and guard < 0:
        raise ConfigError(f"split guard must be non-negative, got {guard}")
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    bands = sides if guard is None else np.full(len(boxes), float(guard))
    half = bands[:, None] / 2 * np.array([-1.0, -1.0, 1.0, 1.0])
    grown = shapely.box(*(boxes + half).T)
    first, second = shapely.STRtree(grown).query(grown, predicate="intersects")
    first, second = first[first < second], second[first < second]
    close = _gaps(boxes[first], boxes[second]) < (bands[first] + bands[second]) / 2
    return first[close], second[close]


def _gaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row, the gap between two ``N x 4`` arrays of boxes: the larger of the x and y
    gaps, negative when they overlap (zero when they touch: no shared pixel)."""
    return np.maximum(np.maximum(a[:, 0], b[:, 0]) - np.minimum(a[:, 2], b[:, 2]),
                      np.maximum(a[:, 1], b[:, 1]) - np.minimum(a[:, 3], b[:, 3]))


def _neighbours(boxes: np.ndarray, guard: float | None, rank: np.ndarray | None = None
                ) -> list[set[int]]:
    """Per chip, the chips closer than the guard band (of another rank, if ranks given)."""
    first, second = close_pairs(boxes, guard)
    if rank is not None:
        other = rank[first] != rank[second]
        first, second = first[other], second[other]
    neighbours: list[set[int]] = [set() for _ in range(len(boxes))]
    for i, j in zip(first.tolist(), second.tolist(), strict=True):
        neighbours[i].add(j)
        neighbours[j].add(i)
    return neighbours


def guard_conflicts(boxes: np.ndarray, splits: Sequence[str], guard: float | None,
                    fractions: Sequence[float] | None = None) -> list[bool]:
    """Which chips to drop so that chips of different splits keep a guard band apart.

    Two chips of different splits conflict when they are closer than the guard band
    (:func:`close_pairs`). Conflicts are resolved by a greedy weighted
    cover: the chip with the highest remaining conflicts x sqrt(its split's fraction) is
    dropped first, so a large land-use chip goes before the many houses around it, while a
    test chip (a small fraction) amid training chips is worth several of them and the splits
    keep most of their shares; ties go against the lower-priority split (:data:`PRIORITY`:
    train, then val, then test), then by footprint, so the outcome depends on the footprints
    only.

    Args:
        boxes: ``N x 4`` chip footprints in one CRS (the grid CRS).
        splits: The split of each chip.
        guard: The band in the boxes' units, or ``None`` for the chips' own sides.
        fractions: The train/val/test fractions (the weights; ``None``: equal).

    Returns:
        Per chip, whether it is dropped.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    rank = np.array([PRIORITY.index(s) for s in splits], dtype=np.int64).reshape(-1)
    neighbours = _neighbours(boxes, guard, rank)  # pairs of one split never conflict
    # sqrt: at 0.8/0.1/0.1 a test chip outweighs ~3 train chips. Plain counts (no weight)
    # lose fewest chips but empty the held-out cells, whose chips all border training ones;
    # weights of 1/fraction keep the shares but lose a third more chips (bench/split_keep.py).
    share = dict(zip(SPLITS, fractions or [1.0] * len(SPLITS), strict=True))
    weight = [math.sqrt(share[split]) for split in splits]
    order = {index: (-int(rank[index]), *boxes[index].tolist()) for index in range(len(boxes))
             if neighbours[index]}
    heap = [(-len(neighbours[i]) * weight[i], *order[i], i) for i in order]
    heapq.heapify(heap)
    dropped = [False] * len(boxes)
    while heap:
        entry = heapq.heappop(heap)
        index = entry[-1]
        if dropped[index] or not neighbours[index]:
            continue
        if -entry[0] != len(neighbours[index]) * weight[index]:  # stale: conflicts shrank
            heapq.heappush(heap, (-len(neighbours[index]) * weight[index], *order[index],
                                  index))
            continue
        dropped[index] = True
        for other in neighbours[index]:
            neighbours[other].discard(index)
        neighbours[index] = set()
    return dropped


def split_cell_report(cell: float, rule: SplitRule, splits: Sequence[str],
                      dropped: Sequence[bool]) -> dict[str, Any]:
    """The manifest's ``split`` section: the cells used and, per split, kept/dropped chips."""
    per_split = {s: {"kept": 0, "dropped_near_other_split": 0} for s in SPLITS}
    for split, drop in zip(splits, dropped, strict=True):
        per_split[split]["dropped_near_other_split" if drop else "kept"] += 1
    return {
        "grid_crs": GRID_CRS, "cell_m": cell,
        "cell_m_chosen": (f"auto: the multiple of the median chip side (of "
                          f"{', '.join(f'{f:g}' for f in AUTO_CELL_CHIPS)}) keeping "
                          f">= {AUTO_KEEP:.0%} of the chips whose splits best follow the "
                          "fractions" if rule.cell_m is None else "given"),
        "guard_m": rule.guard_m if rule.guard_m is not None else "each pair's mean chip side",
        "fractions": list(rule.fractions), "priority": list(PRIORITY), "per_split": per_split,
    }


def training_boxes(dataset: str | Path) -> np.ndarray:
    """``N x 4`` grid-CRS footprints of a built dataset's training chips (its records).

    Evaluation sets cut from the same ground (land cover, localisation masks, VQA) drop their
    held-out chips that share pixels with these (:func:`overlaps_training`): a caption build
    keeps its own splits apart, but a training chip framed on a large object reaches far into
    a neighbouring held-out cell.
    """
    from rsvl.data.records import read_records

    path = Path(dataset)
    train = [r for r in read_records(path / "records.jsonl" if path.is_dir() else path)
             if r.split == "train" and r.footprint and r.crs]
    boxes = [grid_boxes([r.footprint for r in train if r.crs == crs and r.footprint], crs)
             for crs in sorted({r.crs for r in train if r.crs})]
    return np.vstack(boxes) if boxes else np.zeros((0, 4))


def overlaps_training(boxes: np.ndarray, splits: Sequence[str], training: np.ndarray
                      ) -> list[bool]:
    """Per chip (``N x 4``, grid CRS), whether it is held out (not ``train``) and shares
    pixels with one of ``training`` (another build's training chips, :func:`training_boxes`)."""
    import shapely

    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    training = np.asarray(training, dtype=np.float64).reshape(-1, 4)
    hit = np.zeros(len(boxes), dtype=bool)
    if len(boxes) and len(training):
        chips, seen = shapely.STRtree(shapely.box(*training.T)).query(
            shapely.box(*boxes.T), predicate="intersects")
        hit[chips[_gaps(boxes[chips], training[seen]) < 0]] = True  # as in the guard pass
    return [bool(h) and split != "train" for h, split in zip(hit, splits, strict=True)]
