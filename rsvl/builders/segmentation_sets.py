"""A segmentation mask set cut from the built-in region's class raster.

The orthophoto is cut into a regular grid of ``chip_m`` squares at its own resolution, as the
land-cover set (:mod:`rsvl.builders.land_cover`), with the split rule of the caption build
(the split of the cell holding the chip's centre, chips near another split dropped); each kept
chip is written with its ``classes.tif`` window as a label mask. Classes are the mapped classes
present in the kept masks, named by their OSM phrase (``landuse=residential`` ->
``residential area``); ``nodata`` and the unmapped ``ground`` filler are unlabelled.

Layout (read by :func:`rsvl.evaluation.segmentation.load_mask_set`)::

    OUT/segmentation.json     classes, class names, chips, how they were cut
    OUT/images/KEY.png        RGB chip
    OUT/masks/KEY.png         8-bit labels (rsvl.data.masks.IGNORE_PNG = unlabelled)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from rsvl.builders.splits import SplitRule
from rsvl.data.atomic import atomic_open, write_json
from rsvl.data.masks import IGNORE_PNG, write_label_png
from rsvl.errors import InputError

MASK_SET_FILE = "segmentation.json"


def region_classes() -> dict[int, str]:
    """Class id of ``classes.tif`` -> OSM phrase, for every mapped class."""
    from rsvl.osm import describe
    from rsvl.synth import list_classes

    return {c.id: describe(c.osm_tags) or c.name.replace("_", " ")
            for c in list_classes() if c.kind != "none"}


def write_region_mask_set(region_dir: str | Path, out_dir: str | Path, split: str = "test", *,
                          chip_m: float = 96.0, rule: SplitRule | None = None,
                          seed: int = 0, exclude_training: str | Path | None = None
                          ) -> dict[str, Any]:
    """Write the ``split`` chips of a region (``all``: every chip) with their label masks.

    Args:
        region_dir: A region folder (``rsvl region --out DIR``).
        out_dir: Destination (replaced).
        split: ``train``, ``val``, ``test`` or ``all``.
        chip_m: Chip side on the ground, metres.
        rule: Split rule (default: the caption build's, automatic cells); give the caption
            build's resolved ``split.cell_m`` to share its cells.
        seed: Seed of the split cells, as in the caption build.
        exclude_training: A caption build over the region: chips of ``split`` sharing pixels
            with its training chips are left out (counted in ``details``), so a model trained
            on it is not tested on pixels it saw.

    Returns:
        The written ``segmentation.json`` content.

    Raises:
        InputError: Not a region folder, or its rasters cannot be read.
    """
    import rasterio
    from PIL import Image
    from rasterio.windows import from_bounds

    from rsvl.builders.splits import decide_splits, grid_boxes
    from rsvl.synth import load_region

    region = load_region(region_dir)
    try:
        with rasterio.open(region.classes_path) as source:
            labels, transform = source.read(1), source.transform
        with rasterio.open(region.orthophoto_path) as source:
            photo = source.read([1, 2, 3])
    except rasterio.errors.RasterioIOError as error:
        raise InputError(f"{region.out_dir}: unreadable region raster ({error}); regenerate it "
                         f"with `rsvl region --out {region.out_dir}`") from None
    west, south, east, north = region.bounds
    cols, rows = int((east - west) // chip_m), int((north - south) // chip_m)
    grid = [(row, col, (west + col * chip_m, north - (row + 1) * chip_m,
                        west + (col + 1) * chip_m, north - row * chip_m))
            for row in range(rows) for col in range(cols)]
    decision = decide_splits(grid_boxes([b for _, _, b in grid], region.crs),
                             rule or SplitRule(), seed, exclude_training=exclude_training)
    kept = []
    for (row, col, bounds), chip_split, drop, leak in zip(
            grid, decision.splits, decision.dropped, decision.overlapping_training, strict=True):
        if split == "all" or (chip_split == split and not drop and not leak):
            window = from_bounds(*bounds, transform=transform).round_offsets().round_lengths()
            kept.append((f"r{row:03d}_c{col:03d}", window.toslices()))
    names = region_classes()
    present = sorted({int(v) for _, w in kept for v in np.unique(labels[w])} & set(names))
    lookup = np.full(int(labels.max()) + 1, IGNORE_PNG, dtype=np.uint8)
    lookup[present] = np.arange(len(present))
    folder = Path(out_dir)
    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for key, window in kept:
        with atomic_open(staging / "images" / f"{key}.png", "wb") as handle:
            Image.fromarray(np.moveaxis(photo[(slice(None), *window)], 0, -1)).save(handle, "PNG")
        write_label_png(staging / "masks" / f"{key}.png", lookup[labels[window]])
    summary = {
        "source": str(region.out_dir), "name": f"{region.out_dir.name}-classes", "split": split,
        "classes": [names[i].replace(" ", "_") for i in present],
        "class_names": [names[i] for i in present], "ignore": IGNORE_PNG,
        "chips": [key for key, _ in kept],
        "details": {"chip_m": chip_m, "gsd_m": region.gsd_m, "seed": seed,
                    "split_cell_m": decision.report.get("cell_m"), "split": split,
                    "split_method": decision.report.get("method"),
                    "exclude_training": None if exclude_training is None
                    else str(exclude_training),
                    "overlapping_training": sum(
                        leak for s, leak in zip(decision.splits, decision.overlapping_training,
                                                strict=True) if s == split),
                    "labels": "classes.tif (nodata and ground unlabelled)"},
    }
    write_json(staging / MASK_SET_FILE, summary)
    shutil.rmtree(folder, ignore_errors=True)
    staging.mkdir(parents=True, exist_ok=True)
    staging.rename(folder)
    return summary
