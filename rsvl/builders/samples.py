"""One partition's samples: frame, check, read, caption and write each focus object's chip.

:func:`make_partition` runs in worker processes; its task carries everything it needs (the
picklable imagery reader, the partition's focus objects and the features around them) and it
writes one atomic result file listing kept records and rejected objects.
"""

from __future__ import annotations

import os
import pickle
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from rsvl.builders.chips import (
    ChipRejected,
    ChipRule,
    check_pixels,
    chip_path,
    fit_inside,
    frame_chip,
    pixel_hash,
)
from rsvl.builders.focus import sample_key
from rsvl.builders.guards import read_chip
from rsvl.builders.partitions import write_result
from rsvl.builders.splits import GRID_CRS, STRADDLES, split_of_footprint
from rsvl.captions import make_captions
from rsvl.data.records import Record
from rsvl.imagery.base import Imagery
from rsvl.imagery.geo import transform_bounds


@dataclass(frozen=True)
class SampleSettings:
    """The per-sample part of a build's configuration (shared by all partitions).

    Attributes:
        source: Dataset/source name, the records' ``source`` and the keys' prefix.
        licence: The records' licence (imagery licence + OSM attribution).
        rule: Chip framing and rejection thresholds.
        native_res: Imagery pixel size in CRS units.
        captions_per_chip: Captions written per chip.
        seed: Seed of captions and split cells.
        split_cell: Split grid cell side (Web Mercator metres).
        split_fractions: Train/val/test fractions.
        bands: 1-based source bands for RGB (``None``: the reader's default).
        strict: Stop at the first unreadable chip instead of skipping and counting it.
    """

    source: str
    licence: str
    rule: ChipRule
    native_res: float
    captions_per_chip: int
    seed: int
    split_cell: float
    split_fractions: tuple[float, ...]
    bands: tuple[int, ...] | None = None
    strict: bool = False


@dataclass
class PartitionTask:
    """Everything one partition's worker needs.

    Attributes:
        result: The partition's result file (written last, atomically).
        root: Dataset root (chips go under ``root/chips``).
        imagery: The imagery reader (pickles without its file handle).
        settings: Shared sample settings.
        focus: ``(osm_id, tags, wkb)`` of the partition's focus objects, sorted by osm_id.
        context: ``(osm_id, tags, wkb)`` of the groundable features that chips may contain.
    """

    result: Path
    root: Path
    imagery: Imagery
    settings: SampleSettings
    focus: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    context: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


class _Context:
    """The features around a partition, indexed for chip-box queries."""

    def __init__(self, context: list[tuple[str, dict[str, str], bytes]]):
        self.osm_ids = [osm_id for osm_id, _, _ in context]
        self.tags = [tags for _, tags, _ in context]
        self.geometries = shapely.from_wkb([wkb for _, _, wkb in context])
        self.tree = shapely.STRtree(self.geometries)

    def around(self, chips: list[tuple[float, float, float, float]],
               focus_ids: list[str]) -> list[list[tuple[str, dict[str, str]]]]:
        """Per chip, the features intersecting it other than its focus object, nearest first.

        One tree query and one distance call for all the partition's chips: per-chip shapely
        calls cost more than the captions they feed.
        """
        if not chips:
            return []
        minx, miny, maxx, maxy = np.array(chips, dtype=np.float64).T
        chip_index, hits = self.tree.query(shapely.box(minx, miny, maxx, maxy),
                                           predicate="intersects")
        centres = shapely.points((minx + maxx) / 2, (miny + maxy) / 2)
        distances = shapely.distance(self.geometries[hits], centres[chip_index]).tolist()
        found: list[list[tuple[float, str, int]]] = [[] for _ in chips]
        for chip, hit, distance in zip(chip_index.tolist(), hits.tolist(), distances,
                                       strict=True):
            found[chip].append((distance, self.osm_ids[hit], hit))
        return [[(osm_id, self.tags[i]) for _, osm_id, i in sorted(nearest) if osm_id != focus]
                for nearest, focus in zip(found, focus_ids, strict=True)]


class _ChipFolders:
    """Chip bucket folders known to exist: one ``mkdir`` per folder, not one per chip."""

    def __init__(self, root: Path):
        self.root = root
        self._made: set[str] = set()

    def path(self, image: str) -> Path:
        """The absolute path of a chip, its folder created if needed."""
        folder, _, _ = image.rpartition("/")
        if folder not in self._made:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            self._made.add(folder)
        return self.root / image


# Tasks reach worker processes with a pickled reader that has no open handle. Reopening the
# imagery for every partition would also drop GDAL's cache of decoded blocks, which
# neighbouring partitions share; so each worker thread keeps the last reader it opened and
# reuses it for tasks carrying the same reader (same pickled state, same file on disk).
_readers = threading.local()


def _reader_identity(imagery: Imagery) -> tuple[bytes, tuple[int, int] | None]:
    try:
        stat = os.stat(imagery.source)
        changed: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:  # GDAL paths (/vsicurl/...) have no local file to watch
        changed = None
    return pickle.dumps(imagery), changed


def worker_imagery(imagery: Imagery) -> Imagery:
    """The reader this thread already has open for ``imagery``'s source, else ``imagery``.

    Args:
        imagery: The task's reader (freshly unpickled in a worker process, or the build's
            own reader when partitions run in the calling process).

    Returns:
        A reader equivalent to ``imagery`` (same source and options) to read chips with.
    """
    identity = _reader_identity(imagery)
    kept = getattr(_readers, "kept", None)
    if kept is not None and kept[0] == identity:
        return kept[1]  # type: ignore[no-any-return]
    if kept is not None and kept[1] is not imagery:
        kept[1].close()
    _readers.kept = (identity, imagery)
    return imagery


def frame_sample(settings: SampleSettings, imagery: Imagery,
                 object_bounds: tuple[float, float, float, float]
                 ) -> tuple[tuple[float, float, float, float], str]:
    """A focus object's chip footprint and split, decided before any pixel is read.

    Raises:
        ChipRejected: The object cannot be framed, or its chip straddles split cells.
    """
    bounds = frame_chip(object_bounds, settings.native_res, settings.rule)
    bounds = fit_inside(bounds, object_bounds, imagery.bounds)
    # Straddling chips cost no read.
    split = split_of_footprint(transform_bounds(bounds, imagery.crs, GRID_CRS),
                               settings.split_cell, settings.seed, settings.split_fractions)
    if split is None:
        raise ChipRejected(STRADDLES)
    return bounds, split


def make_sample(settings: SampleSettings, imagery: Imagery, folders: _ChipFolders,
                osm_id: str, tags: dict[str, str], bounds: tuple[float, float, float, float],
                split: str, around: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    """Read, check, caption and write one framed chip; returns its record as a dict.

    Args:
        settings: The build's sample settings.
        imagery: The reader to read the chip with (see :func:`worker_imagery`).
        folders: The partition's chip folders.
        osm_id: The focus object's id.
        tags: Its cleaned tags.
        bounds: The chip footprint (:func:`frame_sample`).
        split: The chip's split (:func:`frame_sample`).
        around: ``(osm_id, tags)`` of the other features in the chip, nearest first.

    Raises:
        ChipRejected: The chip's pixels are unusable (the reason says why).
    """
    # Unreadable pixels (a corrupt tile, a failed remote read) reject the chip unless strict.
    chip = read_chip(imagery, bounds, settings.rule.chip_size, settings.bands, settings.strict)
    check_pixels(chip.rgb, chip.valid, settings.rule)
    key = sample_key(settings.source, osm_id)
    captions = make_captions(tags, [t for _, t in around],
                             seed=f"{settings.seed}:{key}", n=settings.captions_per_chip)
    image = chip_path(key, settings.rule.image_format)
    # No temporary file or fsync per chip (they cost more than the read): the partition's
    # result file, written atomically after its chips, is what marks them complete, and a
    # rerun of an unfinished partition rewrites every chip it references.
    folders.path(image).write_bytes(chip.encode(settings.rule.image_format))
    record: dict[str, Any] = {
        "key": key, "image": image, "captions": captions, "split": split,
        "source": settings.source, "licence": settings.licence,
        "osm_ids": [osm_id] + [i for i, _ in around], "tags": tags,
        "footprint": [float(v) for v in chip.bounds], "crs": chip.crs,
        "gsd_m": float(chip.gsd_m), "extra": {"pixel_sha256": pixel_hash(chip.rgb)},
    }
    # Record validates the fields; the plain dict is returned as it is because
    # Record.to_dict's deep copy (dataclasses.asdict) costs as much as captioning the chip.
    Record(**record)
    return record


def make_partition(task: PartitionTask) -> None:
    """Make every sample of one partition and write its result file atomically.

    Each result row is ``{"record": {...}}`` for a kept chip or ``{"osm_id": ..., "rejected":
    reason}`` for a rejected focus object, in the focus objects' order.
    """
    imagery = worker_imagery(task.imagery)
    folders = _ChipFolders(task.root)
    footprints = shapely.bounds(shapely.from_wkb([wkb for _, _, wkb in task.focus])).tolist()
    rows: list[dict[str, Any]] = []
    framed: list[tuple[int, str, dict[str, str], tuple[float, float, float, float], str]] = []
    for (osm_id, tags, _), object_bounds in zip(task.focus, footprints, strict=True):
        try:
            bounds, split = frame_sample(task.settings, imagery, tuple(object_bounds))
            framed.append((len(rows), osm_id, tags, bounds, split))
            rows.append({})  # filled below, once the chip is read
        except ChipRejected as rejection:
            rows.append({"osm_id": osm_id, "rejected": rejection.reason})
    arounds = _Context(task.context).around([chip[3] for chip in framed],
                                            [chip[1] for chip in framed])
    for (row, osm_id, tags, bounds, split), around in zip(framed, arounds, strict=True):
        try:
            rows[row] = {"record": make_sample(task.settings, imagery, folders, osm_id, tags,
                                               bounds, split, around)}
        except ChipRejected as rejection:
            rows[row] = {"osm_id": osm_id, "rejected": rejection.reason}
    write_result(task.result, rows)
