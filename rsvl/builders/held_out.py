"""Held-out splits grown as regions through the chips' conflict graph, for regions too small
for split cells.

Chips framed on objects overlap freely, so on a region a few chips wide every split cell
borders cells of the other splits and the guard pass loses a third of the chips (the built-in
2 km region: 67 %). Here each held-out split is instead one region grown chip by chip from a
seed: the next chip is the one bringing the fewest new chips into the region's boundary
(chips that conflict with the region but are not in it), until the region holds its share.
The boundary is dropped, so nothing outside it conflicts with the region; a region grown on
its own cluster of chips needs no boundary at all. Seeds are the chips at the region's
extremes plus spread-out ones; of the regions that show about the build's mix of objects
(:data:`MAX_MIX`), the one with the smallest boundary wins. The fewest-boundary regions alone
lie in sparse corners: on the built-in region they kept 82 % of the chips but held out only
fields and wetland; holding the mix keeps 76 % (cells: 67 %, with 8 val chips).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from rsvl.data.records import SPLITS

# Seeds tried per held-out split: the extremes in 8 directions plus farthest-point samples, up
# to MAX_SEEDS while a region's growth is cheap (SEED_BUDGET: region chips x their conflicts
# summed over the seeds, about a second; a 5,000-chip plan stays in seconds).
MAX_SEEDS = 48
SEED_BUDGET = 200_000
# A held-out region whose kinds of chips (building, landuse, highway...) differ from the whole
# build's by more than this total variation is not representative: the fewest-boundary seed
# is taken among those within it. Without it the regions settle in sparse corners (fewest
# overlaps): on the built-in region only fields and wetland were held out (0.5-0.6).
MAX_MIX = 0.25
DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))


def grow_held_out(boxes: np.ndarray, neighbours: Sequence[set[int]],
                  fractions: Sequence[float], expected_kept: int | None = None,
                  kinds: Sequence[str | None] | None = None) -> tuple[list[str], list[bool]]:
    """Splits of the chips with each held-out split one grown region.

    The split with the largest fraction (train at 0.8/0.1/0.1) takes every chip left; the
    others, held-out first (test, then val), are grown with ``fraction x expected_kept``
    chips each.

    Args:
        boxes: ``N x 4`` chip footprints (grid CRS).
        neighbours: Per chip, the chips it conflicts with (too close across splits).
        fractions: Train/val/test fractions.
        expected_kept: The chips the shares are of (default: all ``N``).
        kinds: Per chip, what it shows (its focus object's OSM key): a region must hold them
            in about the whole build's mix (:data:`MAX_MIX`) when any seed's does.

    Returns:
        Per chip its split, and whether it is dropped (in a grown region's boundary).
    """
    n = len(boxes)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    rest = max(SPLITS, key=lambda s: (fractions[SPLITS.index(s)], -SPLITS.index(s)))
    splits, dropped = [rest] * n, [False] * n
    alive = np.ones(n, dtype=bool)
    total = n if expected_kept is None else expected_kept
    degree = max(1.0, sum(len(conflicts) for conflicts in neighbours) / max(n, 1))
    whole = Counter(kinds or ())  # the build's mix, counted once for every seed
    for split in ("test", "val", "train"):
        fraction = fractions[SPLITS.index(split)]
        if split == rest or fraction <= 0 or not alive.any():
            continue
        quota = max(1, math.ceil(fraction * total))
        seeds = max(len(DIRECTIONS), min(MAX_SEEDS, SEED_BUDGET // math.ceil(quota * degree)))
        best: tuple[tuple[float, ...], list[int], list[int]] | None = None
        for seed in _seeds(centres, alive, seeds):
            region, boundary = _grow(seed, neighbours, alive, quota, centres)
            mix = 0.0 if kinds is None else _mix_distance(kinds, region, whole)
            rank = (0.0, len(boundary)) if mix <= MAX_MIX else (1.0, mix, len(boundary))
            if best is None or rank < best[0]:
                best = (rank, region, boundary)
        assert best is not None
        for index in best[1]:
            splits[index] = split
        for index in best[2]:
            dropped[index] = True
        alive[best[1] + best[2]] = False
    return splits, dropped


def _mix_distance(kinds: Sequence[str | None], region: Sequence[int],
                  whole: Counter[str | None]) -> float:
    """Total variation distance between the kinds of the region's chips and of all chips
    (``whole``: ``Counter(kinds)``)."""
    part = Counter(kinds[i] for i in region)
    return 0.5 * sum(abs(part[k] / len(region) - whole[k] / len(kinds)) for k in whole)


def _seeds(centres: np.ndarray, alive: np.ndarray, count: int) -> list[int]:
    """Where regions start: the live chips farthest out in each of :data:`DIRECTIONS`, then
    farthest-point samples (each the live chip farthest from the seeds so far), ``count`` in
    all."""
    live = np.flatnonzero(alive)
    seeds: list[int] = []
    for direction in DIRECTIONS:
        index = int(live[np.argmax(centres[live] @ np.asarray(direction, dtype=np.float64))])
        if index not in seeds:
            seeds.append(index)
    distance = np.min(np.linalg.norm(centres[live, None, :] - centres[None, seeds, :], axis=2),
                      axis=1)
    while len(seeds) < min(count, len(live)) and distance.max() > 0:
        index = int(live[np.argmax(distance)])
        seeds.append(index)
        distance = np.minimum(distance, np.linalg.norm(centres[live] - centres[index], axis=1))
    return seeds


def _grow(seed: int, neighbours: Sequence[set[int]], alive: np.ndarray, quota: int,
          centres: np.ndarray) -> tuple[list[int], list[int]]:
    """Grow a region of ``quota`` live chips from ``seed``; returns it and its boundary.

    Boundary chips wait in a heap keyed by how many live chips outside the region and its
    boundary they conflict with (the boundary they would add), then by fewest links into the
    region, then by index. Keys only fall as the region grows, so stale entries are refreshed
    when popped. A region that runs out of boundary (its cluster is exhausted) continues from
    the nearest live chip not yet taken.
    """
    taken: set[int] = set()  # region and boundary
    region: list[int] = []
    boundary: set[int] = set()
    links: dict[int, int] = {}
    outside: dict[int, int] = {}  # boundary chip -> its live conflicts not taken yet
    heap: list[tuple[int, int, int]] = []
    by_distance = iter(np.argsort(np.linalg.norm(centres - centres[seed], axis=1),
                                  kind="stable").tolist())

    def push(index: int) -> None:
        heapq.heappush(heap, (outside[index], -links.get(index, 0), index))

    def mark(index: int) -> None:
        taken.add(index)
        for other in neighbours[index]:
            if other in boundary:
                outside[other] -= 1
                push(other)

    def take(index: int) -> None:
        boundary.discard(index)
        if index not in taken:
            mark(index)
        region.append(index)
        new = [o for o in neighbours[index] if alive[o] and o not in taken]
        for other in neighbours[index]:
            if alive[other]:
                links[other] = links.get(other, 0) + 1
        for other in new:
            mark(other)
        for other in new:
            boundary.add(other)
            outside[other] = sum(1 for o in neighbours[other] if alive[o] and o not in taken)
        for other in neighbours[index]:
            if other in boundary:
                push(other)

    take(seed)
    while len(region) < quota:
        while heap:
            cost, link, index = heapq.heappop(heap)
            if index in boundary and (cost, link) == (outside[index], -links[index]):
                break
        else:
            index = next((i for i in by_distance if alive[i] and i not in taken), -1)
            if index < 0:
                break
        take(index)
    return region, sorted(boundary)
