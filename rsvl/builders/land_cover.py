"""A held-out land-cover classification set cut from the synthetic region's class raster.

The caption build makes one chip per OSM object, so a land-use polygon (a 300 m field) gives
one large chip, and a region of a few kilometres holds few of them in its test cells. Land
cover is therefore evaluated EuroSAT-style instead: the orthophoto is cut into a regular grid
of chips, each labelled with the land class covering most of its pixels in ``classes.tif``
(the region's ground truth), with the split rule of the caption build
(``rsvl.builders.splits``: the split of the cell holding the chip's centre; chips too close to
another split's chip are dropped). Give it the caption build's seed and resolved cell size
(its manifest's ``split.cell_m``) so both use the same cells.

Class folders are named by the OSM phrase of the class's tags (``landuse=residential`` ->
``residential_area``, ``natural=wood`` -> ``woodland``), the words the captions use.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rsvl.builders.splits import SplitRule
from rsvl.data.atomic import atomic_open, write_json
from rsvl.errors import InputError

if TYPE_CHECKING:
    from rsvl.synth import RegionInfo

# Only area classes describe land cover; roads and buildings count against a chip's purity.
LAND_COVER_KIND = "area"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class LandCoverRule:
    """How grid chips are cut, labelled and kept.

    Attributes:
        chip_m: Chip side on the ground, metres.
        chip_px: Chip side in pixels (the chip is resampled to it).
        min_share: Fraction of the chip's pixels its majority land class must cover.
        min_per_class: Classes with fewer chips in the chosen splits are dropped (reported).
        splits: Splits the chips are drawn from (``test`` keeps them apart from training).
        split: The split rule, as in the caption build (``cell_m=None``: 16 chips wide).
        seed: Seed of the split cells, as in the caption build.
        exclude_training: A caption build over the same ground: held-out chips sharing pixels
            with its training chips are left out (``overlaps_training_chip``), so a model
            trained on it is not tested on pixels it saw.
    """

    chip_m: float = 96.0
    chip_px: int = 64
    min_share: float = 0.6
    min_per_class: int = 10
    splits: tuple[str, ...] = ("test",)
    split: SplitRule = field(default_factory=SplitRule)
    seed: int = 0
    exclude_training: str | None = None


@dataclass
class LandCoverSet:
    """What :func:`write_land_cover_set` wrote.

    Attributes:
        folder: The class-folder root.
        classes: Chips per kept class folder.
        dropped: Chips per class folder dropped for having fewer than ``min_per_class``.
        rejected: Grid chips not used, per reason.
        split: The split cells used and chips kept/dropped per split (as in a manifest).
    """

    folder: Path
    classes: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)
    split: dict[str, Any] = field(default_factory=dict)


def class_folder_names() -> dict[int, str]:
    """Class id -> folder name (OSM phrase of its tags) for the land-cover classes."""
    from rsvl.osm import describe
    from rsvl.synth import list_classes

    names = {}
    for land_class in list_classes():
        if land_class.kind == LAND_COVER_KIND:
            phrase = describe(land_class.osm_tags) or land_class.name
            names[land_class.id] = phrase.replace(" ", "_")
    return names


def majority_class(labels: np.ndarray, min_share: float) -> int | None:
    """The class id covering at least ``min_share`` of ``labels`` (0, nodata, never wins)."""
    counts = np.bincount(labels.ravel())
    winner = int(counts.argmax())
    if winner == 0 or counts[winner] < min_share * labels.size:
        return None
    return winner


def write_land_cover_set(region: RegionInfo, out_dir: str | Path,
                         rule: LandCoverRule = LandCoverRule()) -> LandCoverSet:
    """Cut, label and write the land-cover chips of ``rule.splits`` as class folders.

    Args:
        region: The generated region (its orthophoto and class raster).
        out_dir: Destination: ``out_dir/<class>/<row>_<col>.jpg`` plus ``summary.json``.
        rule: Chip size, purity, splits and split cells.

    Returns:
        The kept and dropped classes with their counts, and the rejected chips per reason.

    Raises:
        InputError: The class raster cannot be read.
    """
    # Imported here so that `rsvl build --help` (which lists this job's options) stays light.
    import rasterio
    from rasterio.windows import from_bounds

    from rsvl.builders.splits import NEAR_OTHER_SPLIT, OVERLAPS_TRAINING, decide_splits, grid_boxes
    from rsvl.imagery import open_imagery

    folder = Path(out_dir)
    names = class_folder_names()
    imagery = open_imagery(str(region.orthophoto_path))
    try:
        with rasterio.open(region.classes_path) as source:
            labels, transform = source.read(1), source.transform
    except rasterio.errors.RasterioIOError as error:
        raise InputError(
            f"{region.classes_path}: unreadable class raster ({error}); "
            f"regenerate the region with `rsvl region --out {region.out_dir}`"
        ) from None
    west, south, east, north = region.bounds
    steps = int((east - west) // rule.chip_m), int((north - south) // rule.chip_m)
    grid = [(row, col, (west + col * rule.chip_m, north - (row + 1) * rule.chip_m,
                        west + (col + 1) * rule.chip_m, north - row * rule.chip_m))
            for row in range(steps[1]) for col in range(steps[0])]
    decision = decide_splits(grid_boxes([bounds for _, _, bounds in grid], region.crs),
                             rule.split, rule.seed, exclude_training=rule.exclude_training)
    by_class: dict[str, list[tuple[str, tuple[float, float, float, float]]]] = defaultdict(list)
    result = LandCoverSet(folder, split=decision.report)
    for (row, col, bounds), split, drop, leak in zip(grid, decision.splits, decision.dropped,
                                                     decision.overlapping_training, strict=True):
        if drop or split not in rule.splits or leak:
            result.rejected[NEAR_OTHER_SPLIT if drop else OVERLAPS_TRAINING if leak
                            else "other_split"] += 1
            continue
        window = from_bounds(*bounds, transform=transform).round_offsets().round_lengths()
        winner = majority_class(labels[window.toslices()], rule.min_share)
        if winner is None or winner not in names:
            result.rejected["mixed_or_not_land_cover"] += 1
            continue
        by_class[names[winner]].append((f"r{row:03d}_c{col:03d}", bounds))
    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for label, chips in sorted(by_class.items()):
        if len(chips) < rule.min_per_class:
            result.dropped[label] = len(chips)
            continue
        result.classes[label] = len(chips)
        for key, bounds in chips:
            chip = imagery.read(bounds, rule.chip_px)
            with atomic_open(staging / label / f"{key}.jpg", "wb") as handle:
                handle.write(chip.encode("jpg"))
    write_json(staging / SUMMARY_FILE, {
        "region": str(region.out_dir), "rule": dataclasses.asdict(rule), "classes": result.classes,
        "dropped": result.dropped, "rejected": dict(result.rejected), "split": result.split,
    })
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return result

