"""The split rule: seeded cells by chip centre, data-chosen cells, and the guard band that keeps
every chip of one split away from the chips of the others (no shared pixel)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rsvl.builders.held_out import MAX_MIX, _mix_distance, grow_held_out
from rsvl.builders.splits import (
    AUTO_CELL_CHIPS,
    AUTO_KEEP,
    NEAR_OTHER_SPLIT,
    SplitDecision,
    SplitRule,
    _neighbours,
    centre_splits,
    check_fractions,
    decide_splits,
    grid_boxes,
    guard_conflicts,
    overlaps_training,
    plan_splits,
    training_boxes,
)
from rsvl.errors import ConfigError

FRACTIONS = (0.6, 0.2, 0.2)


def _row(count: int, step: float = 10.0, size: float = 8.0) -> np.ndarray:
    return np.array([(c * step + 1, 1.0, c * step + 1 + size, 1.0 + size)
                     for c in range(count)])


def test_centre_cell_decides_the_split_and_fractions_hold() -> None:
    boxes = _row(3000)
    splits = centre_splits(boxes, 10.0, 7, FRACTIONS)
    assert splits == centre_splits(boxes, 10.0, 7, FRACTIONS)
    counts = Counter(splits)
    assert abs(counts["train"] / 3000 - 0.6) < 0.05
    assert abs(counts["test"] / 3000 - 0.2) < 0.05
    assert centre_splits(boxes, 10.0, 8, FRACTIONS) != splits
    # A chip far larger than a cell, or across a cell edge, still has one split: its centre's.
    big = np.array([(-500.0, -500.0, 505.0, 505.0)])
    assert centre_splits(big, 10.0, 7, FRACTIONS) == centre_splits(
        np.array([(1.0, 1.0, 4.0, 4.0)]), 10.0, 7, FRACTIONS)


def _random_chips(count: int, seed: int) -> np.ndarray:
    rng = random.Random(seed)
    chips = []
    for _ in range(count):
        x, y, side = rng.uniform(0, 1000), rng.uniform(0, 1000), rng.uniform(5, 60)
        chips.append((x, y, x + side, y + side))
    return np.array(chips)


def _gaps(boxes: np.ndarray) -> np.ndarray:
    """All pairwise gaps (the larger of the x and y gaps; negative: overlap)."""
    a, b = boxes[:, None, :], boxes[None, :, :]
    return np.maximum(np.maximum(a[..., 0], b[..., 0]) - np.minimum(a[..., 2], b[..., 2]),
                      np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 3], b[..., 3]))


@pytest.mark.parametrize("guard", [None, 0.0, 25.0])
def test_no_chip_comes_near_a_chip_of_another_split(guard: float | None) -> None:
    """The leakage test: kept chips of different splits share no pixel and keep the guard."""
    boxes = _random_chips(600, 0)
    decision = decide_splits(boxes, SplitRule(cell_m=100.0, fractions=FRACTIONS, guard_m=guard),
                             3)
    kept = [i for i, drop in enumerate(decision.dropped) if not drop]
    assert {decision.splits[i] for i in kept} == {"train", "val", "test"}
    assert 0 < sum(decision.dropped) < 300
    chips = boxes[kept]
    sides = np.maximum(chips[:, 2] - chips[:, 0], chips[:, 3] - chips[:, 1])
    bands = (sides[:, None] + sides[None, :]) / 2 if guard is None else guard
    splits = np.array([decision.splits[i] for i in kept])
    other = splits[:, None] != splits[None, :]
    assert (_gaps(chips)[other] >= np.broadcast_to(bands, other.shape)[other]).all()
    assert (_gaps(chips)[other] >= 0).all()  # no shared pixel
    report = decision.report["per_split"]
    assert sum(v["kept"] for v in report.values()) == len(kept)


def test_conflicts_depend_on_footprints_not_on_order() -> None:
    boxes = _random_chips(300, 1)
    splits = centre_splits(boxes, 100.0, 0, FRACTIONS)
    dropped = guard_conflicts(boxes, splits, None)
    order = np.random.default_rng(0).permutation(len(boxes))
    shuffled = guard_conflicts(boxes[order], [splits[i] for i in order], None)
    assert [shuffled[k] for k in np.argsort(order)] == dropped


def test_fewest_chips_are_lost() -> None:
    # A large test chip amid four train houses: dropping it alone resolves every conflict.
    houses = np.array([(0.0, 0, 10, 10), (30.0, 0, 40, 10), (0.0, 30, 10, 40), (30.0, 30, 40, 40)])
    boxes = np.vstack([houses, [(5.0, 5, 35, 35)]])
    assert guard_conflicts(boxes, ["train"] * 4 + ["test"], 0.0) == [False] * 4 + [True]
    # A test chip weighs as several train chips (fractions 0.8/0.1/0.1): against two houses
    # the houses go, so a small test cell amid training cells keeps its chips.
    assert guard_conflicts(np.vstack([houses[:2], [(15.0, 0, 25, 10)]]),
                           ["train", "train", "test"], 6.0, (0.8, 0.1, 0.1)) == [True, True, False]
    # One against one: the held-out chip is kept; a dropped chip pushes no one else out.
    row = np.array([(0.0, 0, 10, 10), (12.0, 0, 22, 10), (24.0, 0, 34, 10)])
    assert guard_conflicts(row, ["test", "val", "train"], 5.0) == [False, True, False]
    assert guard_conflicts(row[:2], ["train", "test"], 5.0) == [True, False]
    assert guard_conflicts(row, ["test", "val", "train"], 1.0) == [False, False, False]


def test_cells_chosen_from_the_chips() -> None:
    """Of the multiples of the median chip side keeping 90 % of the chips, the one whose
    kept chips best follow the fractions."""
    boxes = _random_chips(400, 2)
    decision = decide_splits(boxes, SplitRule(fractions=FRACTIONS), 0)
    median = float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    assert decision.report["cell_m_chosen"].startswith("auto")
    assert round(decision.report["cell_m"] / median, 6) in AUTO_CELL_CHIPS

    def balanced(d: SplitDecision) -> float:
        kept = [s for s, drop in zip(d.splits, d.dropped, strict=True) if not drop]
        return min(kept.count(s) / f for s, f in zip(("train", "val", "test"), FRACTIONS,
                                                     strict=True))

    assert sum(decision.dropped) <= (1 - AUTO_KEEP) * len(boxes) and balanced(decision) > 0
    for factor in AUTO_CELL_CHIPS[:6]:
        other = decide_splits(boxes, SplitRule(cell_m=factor * median, fractions=FRACTIONS), 0)
        if sum(other.dropped) <= (1 - AUTO_KEEP) * len(boxes):
            assert balanced(other) <= balanced(decision)
    assert decide_splits(boxes, SplitRule(cell_m=70.0), 0).report["cell_m"] == 70.0
    assert NEAR_OTHER_SPLIT == "near_other_split"


def test_grid_boxes_enclose_the_reprojected_chip() -> None:
    utm = [(500_000.0, 4_300_000.0, 500_224.0, 4_300_224.0)]
    box = grid_boxes(utm, "EPSG:32629")[0]
    assert box[2] - box[0] > 224 and box[3] - box[1] > 224  # Web Mercator stretches at 39 N
    assert grid_boxes(utm, "EPSG:3857").tolist() == [list(utm[0])]


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.1, 0.2), (1.2, -0.1, -0.1)])
def test_bad_fractions(fractions: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="split fractions"):
        check_fractions(fractions)
    with pytest.raises(ConfigError, match="split fractions"):
        SplitRule(fractions=fractions)


def test_bad_cell_size_and_guard() -> None:
    with pytest.raises(ConfigError, match="cell size"):
        SplitRule(cell_m=0.0)
    with pytest.raises(ConfigError, match="cell size"):
        centre_splits(np.zeros((1, 4)), float("nan"), 0, FRACTIONS)
    with pytest.raises(ConfigError, match="guard"):
        SplitRule(guard_m=-1.0)


def _dense_chips(count: int, seed: int, extent: float = 400.0, side: float = 60.0
                 ) -> np.ndarray:
    """Chips framed on objects in a region a few chips wide: each overlaps many others."""
    rng = random.Random(seed)
    chips = []
    for _ in range(count):
        x, y = rng.uniform(0, extent - side), rng.uniform(0, extent - side)
        chips.append((x, y, x + side, y + side))
    return np.array(chips)


def _shared_pixels(boxes: np.ndarray, decision: SplitDecision) -> int:
    kept = [i for i, drop in enumerate(decision.dropped) if not drop]
    splits = np.array([decision.splits[i] for i in kept])
    other = splits[:, None] != splits[None, :]
    return int((_gaps(boxes[kept])[other] < 0).sum())


def test_small_dense_region_grows_held_out_regions() -> None:
    """Where no cell side keeps 90 %, one grown region per held-out split keeps more chips
    than the best cells, in the asked shares, and still no pixel is shared across splits."""
    boxes = _dense_chips(300, 1)
    rule = SplitRule(fractions=(0.8, 0.1, 0.1))
    decision = decide_splits(boxes, rule, 0)
    assert decision.report["method"] == "held_out_regions"
    assert decision.report["cell_m_chosen"].startswith("not used")
    assert _shared_pixels(boxes, decision) == 0
    kept = Counter(s for s, drop in zip(decision.splits, decision.dropped, strict=True)
                   if not drop)
    total = sum(kept.values())
    assert all(0.07 <= kept[s] / total <= 0.13 for s in ("val", "test"))
    with_cells = [decide_splits(boxes, SplitRule(cell_m=f * 60.0, fractions=rule.fractions), 0)
                  for f in (1.0, *AUTO_CELL_CHIPS[:8])]
    best_cells = max(sum(not d for d in c.dropped) for c in with_cells
                     if len({s for s, d in zip(c.splits, c.dropped, strict=True) if not d}) == 3)
    assert best_cells < AUTO_KEEP * len(boxes) and total > best_cells
    assert decide_splits(boxes, rule, 0).splits == decision.splits  # deterministic
    report = decision.report["per_split"]
    assert sum(n["kept"] for n in report.values()) == total
    assert sum(n["dropped_near_other_split"] for n in report.values()) == sum(decision.dropped)


def test_held_out_regions_take_whole_clusters() -> None:
    """A held-out region grown on its own cluster of chips needs no boundary: nothing lost."""
    clusters = [_dense_chips(count, seed, 150.0, 40.0) + offset
                for count, seed, offset in ((160, 2, 0.0), (20, 3, 1000.0), (20, 4, 2000.0))]
    boxes = np.vstack(clusters)
    splits, dropped = grow_held_out(boxes, _neighbours(boxes, 0.0), (0.8, 0.1, 0.1))
    assert not any(dropped)
    assert Counter(splits) == {"train": 160, "val": 20, "test": 20}
    assert set(splits[160:180]) == {"val"} and set(splits[180:]) == {"test"}


def test_held_out_regions_hold_the_mix_of_objects() -> None:
    """A dense town amid sparser fields: the fewest-boundary region lies in the fields (a test
    split of fields only); given what each chip shows, each held-out region holds about the
    build's mix of houses and fields, at the price of a longer boundary."""
    rng = random.Random(5)
    boxes, kinds = [], []
    for _ in range(200):
        x, y = rng.uniform(150, 350), rng.uniform(150, 350)
        boxes.append((x, y, x + 40, y + 40))
        kinds.append("building")
    for _ in range(100):
        x, y = rng.uniform(0, 500), rng.uniform(0, 500)
        if not (130 < x < 370 and 130 < y < 370):
            boxes.append((x, y, x + 40, y + 40))
            kinds.append("landuse")
    chips = np.array(boxes)
    neighbours = _neighbours(chips, 0.0)

    def mixes(splits: list[str], dropped: list[bool]) -> list[float]:
        return [_mix_distance(kinds, [i for i, (s, d) in enumerate(zip(splits, dropped,
                                                                      strict=True))
                                      if s == split and not d], Counter(kinds))
                for split in ("val", "test")]

    assert max(mixes(*grow_held_out(chips, neighbours, (0.8, 0.1, 0.1)))) > 0.5
    splits, dropped = grow_held_out(chips, neighbours, (0.8, 0.1, 0.1), None, kinds)
    assert max(mixes(splits, dropped)) <= MAX_MIX
    assert Counter(s for s, d in zip(splits, dropped, strict=True) if not d)["test"] == 28


def test_plan_assigns_chips_it_did_not_see() -> None:
    """A chip read in a later round (a near-duplicate freed by a rejected twin) takes the
    split of the planned chip it overlaps most."""
    boxes = _dense_chips(300, 1)
    plan = plan_splits(boxes, SplitRule(), 0)
    assert plan.method == "held_out_regions"
    splits, dropped = plan.assign(boxes)
    index = next(i for i, (s, d) in enumerate(zip(splits, dropped, strict=True))
                 if s == "test" and not d)
    twin = boxes[index] + 1.0
    assert plan.assign(twin[None, :]) == (["test"], [False])
    assert plan_splits(boxes, SplitRule(cell_m=50.0), 0).method == "cells"


def test_held_out_chips_sharing_pixels_with_another_builds_training_chips() -> None:
    """An evaluation set cut from the same ground drops its held-out chips that share pixels
    with the caption build's training chips (touching is no shared pixel; its own training
    chips may overlap them)."""
    grid = np.array([(0.0, 0.0, 10.0, 10.0), (10.0, 0.0, 20.0, 10.0), (20.0, 0.0, 30.0, 10.0),
                     (30.0, 0.0, 40.0, 10.0)])
    training = np.array([(-50.0, -5.0, 5.0, 5.0),  # a large chip reaching into chip 0
                         (30.0, 10.0, 40.0, 20.0),  # touching chip 3's top edge
                         (12.0, 2.0, 18.0, 8.0)])  # inside chip 1
    splits = ["test", "train", "val", "test"]
    assert overlaps_training(grid, splits, training) == [True, False, False, False]
    assert overlaps_training(grid, splits, np.zeros((0, 4))) == [False] * 4


def test_training_boxes_read_a_builds_training_records(make_dataset: Any,
                                                       tmp_path: Path) -> None:
    from rsvl.data.records import write_records

    records = make_dataset(tmp_path)
    write_records(tmp_path / "records.jsonl", records)
    boxes = training_boxes(tmp_path)
    train = [r for r in records if r.split == "train"]
    assert len(boxes) == len(train) > 0
    assert np.allclose(boxes, grid_boxes([r.footprint for r in train], train[0].crs))
