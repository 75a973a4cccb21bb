"""A held-out land-cover classification set cut from the synthetic region's class raster.

The caption build makes one chip per OSM object, so a land-use polygon (a 300 m field) gives
one large chip, which nearly always straddles split cells of different splits: on a region of
a few kilometres the test split keeps almost no land-use chips. Land cover is therefore
evaluated EuroSAT-style instead: the orthophoto is cut into a regular grid of chips, each
labelled with the land class covering most of its pixels in ``classes.tif`` (the region's
ground truth), and a chip only belongs to a split when it lies inside split cells of that
split, with the caption build's seed, cell size and fractions (``rsvl.builders.splits``), so no
test chip overlaps a training chip.

Class folders are named by the OSM phrase of the class's tags (``landuse=residential`` ->
``residential_area``, ``natural=wood`` -> ``woodland``), the words the captions use.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

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
        split_cell_m: Side of the split grid cells (Web Mercator metres), as in the caption build.
        split_fractions: Train/val/test fractions, as in the caption build.
        seed: Seed of the split cells, as in the caption build.
    """

    chip_m: float = 96.0
    chip_px: int = 64
    min_share: float = 0.6
    min_per_class: int = 10
    splits: tuple[str, ...] = ("test",)
    split_cell_m: float = 500.0
    split_fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
    seed: int = 0


@dataclass
class LandCoverSet:
    """What :func:`write_land_cover_set` wrote.

    Attributes:
        folder: The class-folder root.
        classes: Chips per kept class folder.
        dropped: Chips per class folder dropped for having fewer than ``min_per_class``.
        rejected: Grid chips not used, per reason.
    """

    folder: Path
    classes: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)


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

    from rsvl.builders.splits import GRID_CRS, split_of_footprint
    from rsvl.imagery import open_imagery, transform_bounds

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
    by_class: dict[str, list[tuple[str, tuple[float, float, float, float]]]] = defaultdict(list)
    result = LandCoverSet(folder)
    for row in range(steps[1]):
        for col in range(steps[0]):
            left, top = west + col * rule.chip_m, north - row * rule.chip_m
            bounds = (left, top - rule.chip_m, left + rule.chip_m, top)
            split = split_of_footprint(transform_bounds(bounds, region.crs, GRID_CRS),
                                       rule.split_cell_m, rule.seed, rule.split_fractions)
            if split not in rule.splits:
                result.rejected["other_split" if split else "straddles_split_cells"] += 1
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
        "dropped": result.dropped, "rejected": dict(result.rejected),
    })
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return result

