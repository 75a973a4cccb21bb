"""One partition's samples, in two passes: frame every focus object's chip, then read, check,
caption and write the chips the build's global filters chose.

:func:`frame_partition` reads no pixel: the footprints it returns let the build remove
near-duplicates and assign splits over all chips before any window is read, so a chip that
will be dropped costs no read and no encoding. :func:`make_partition` runs in worker
processes; its task carries everything it needs (the picklable imagery reader, the
partition's focus objects, the features around them and the chips to read) and it writes one
atomic result file listing the records and the chips rejected for their pixels.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
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
from rsvl.builders.regions import RegionShapes, chip_regions
from rsvl.builders.splits import grid_boxes
from rsvl.captions import make_captions
from rsvl.captions.long import long_description
from rsvl.data.records import Record
from rsvl.imagery.base import Imagery
from rsvl.osm.tags import focus_key


@dataclass(frozen=True)
class SampleSettings:
    """The per-sample part of a build's configuration (shared by all partitions).

    Attributes:
        source: Dataset/source name, the records' ``source`` and the keys' prefix.
        licence: The records' licence (imagery licence + OSM attribution).
        rule: Chip framing and rejection thresholds.
        native_res: Imagery pixel size in CRS units.
        captions_per_chip: Captions written per chip.
        seed: Seed of captions.
        bands: 1-based source bands for RGB (``None``: the reader's default).
        strict: Stop at the first unreadable chip instead of skipping and counting it.
        regions: Give each chip its region-text pairs and long description.
    """

    source: str
    licence: str
    rule: ChipRule
    native_res: float
    captions_per_chip: int
    seed: int
    bands: tuple[int, ...] | None = None
    strict: bool = False
    regions: bool = True


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
        reads: ``osm_id -> split`` of the focus objects whose chips to read and write (the
            build's global filters chose them); ``None`` for the framing pass.
    """

    result: Path
    root: Path
    imagery: Imagery
    settings: SampleSettings
    focus: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    context: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    reads: dict[str, str] | None = None


class _Context:
    """The features around a partition, indexed for chip-box queries."""

    def __init__(self, context: list[tuple[str, dict[str, str], bytes]]):
        self.osm_ids = [osm_id for osm_id, _, _ in context]
        self.tags = [tags for _, tags, _ in context]
        self.geometries = shapely.from_wkb([wkb for _, _, wkb in context])
        self.tree = shapely.STRtree(self.geometries)
        self.shapes = RegionShapes(dict(zip(self.osm_ids, self.geometries, strict=True)))

    def around(self, chips: list[tuple[float, float, float, float]],
               focus_ids: list[str]) -> list[list[tuple[str, dict[str, str], bool]]]:
        """Per chip, the features intersecting it other than its focus object, nearest first.

        Each is ``(osm_id, tags, covers_centre)``: a feature at distance 0 from the chip's
        centre holds the focus object there (captions say "a house in a residential area").

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
        return [[(osm_id, self.tags[i], distance == 0.0) for distance, osm_id, i
                 in sorted(nearest) if osm_id != focus]
                for nearest, focus in zip(found, focus_ids, strict=True)]


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
                 ) -> tuple[float, float, float, float]:
    """A focus object's chip footprint, decided before any pixel is read.

    Raises:
        ChipRejected: The object cannot be framed (too small, too large, across the edge).
    """
    bounds = frame_chip(object_bounds, settings.native_res, settings.rule)
    return fit_inside(bounds, object_bounds, imagery.bounds)


def frame_partition(task: PartitionTask) -> list[dict[str, Any]]:
    """Frame every focus object of a partition (no pixel is read).

    Returns:
        Per focus object, in order, ``{"osm_id", "key", "footprint", "grid", "kind"}`` (the
        chip footprint in the imagery CRS and in the split grid's, and the OSM key that made
        the object a focus: ``building``, ``landuse``...) or ``{"osm_id", "rejected"}``.
    """
    imagery = worker_imagery(task.imagery)
    footprints = shapely.bounds(shapely.from_wkb([wkb for _, _, wkb in task.focus])).tolist()
    rows: list[dict[str, Any]] = []
    framed: list[tuple[float, float, float, float]] = []
    for (osm_id, tags, _), object_bounds in zip(task.focus, footprints, strict=True):
        try:
            bounds = frame_sample(task.settings, imagery, tuple(object_bounds))
        except ChipRejected as rejection:
            rows.append({"osm_id": osm_id, "rejected": rejection.reason})
            continue
        framed.append(bounds)
        rows.append({"osm_id": osm_id, "key": sample_key(task.settings.source, osm_id),
                     "footprint": list(bounds), "kind": focus_key(tags)})
    grid = iter(grid_boxes(framed, imagery.crs).tolist())
    for row in rows:
        if "footprint" in row:
            row["grid"] = next(grid)
    return rows


def frame_result(task: PartitionTask) -> None:
    """:func:`frame_partition` written as the task's result file (for workers elsewhere)."""
    write_result(task.result, frame_partition(task))


class _Encoded:
    """Encodes, hashes and writes chips on a thread beside the reads (PIL, hashlib and file
    writes release the GIL): the partition's worker reads the next window meanwhile."""

    MAX_PENDING = 32  # bounds the chips held in memory when writes fall behind

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: list[Future[str]] = []

    def submit(self, rgb: np.ndarray, image_format: str, path: Path, encode: Any) -> Future[str]:
        if len(self._pending) >= self.MAX_PENDING:
            self._pending[0].result()
            self._pending = [f for f in self._pending if not f.done()]
        future = self._pool.submit(_encode_write, rgb, image_format, path, encode)
        self._pending.append(future)
        return future

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _encode_write(rgb: np.ndarray, image_format: str, path: Path, encode: Any) -> str:
    # No temporary file or fsync per chip (they cost more than the read): the partition's
    # result file, written atomically after its chips, is what marks them complete, and a
    # rerun of an unfinished partition rewrites every chip it references.
    data = encode(image_format)
    try:
        path.write_bytes(data)
    except FileNotFoundError:  # the chip's bucket folder, made once (no mkdir per chip)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return pixel_hash(rgb)


def make_sample(settings: SampleSettings, imagery: Imagery, root: Path,
                osm_id: str, tags: dict[str, str], bounds: tuple[float, float, float, float],
                split: str, around: list[tuple[str, dict[str, str], bool]],
                writer: _Encoded | None = None, shapes: Mapping[str, Any] | None = None,
                ) -> dict[str, Any] | Future[dict[str, Any]]:
    """Read, check, caption and write one framed chip; returns its record as a dict.

    Args:
        settings: The build's sample settings.
        imagery: The reader to read the chip with (see :func:`worker_imagery`).
        root: The dataset root (the chip goes under ``root/chips``).
        osm_id: The focus object's id.
        tags: Its cleaned tags.
        bounds: The chip footprint (:func:`frame_sample`).
        split: The chip's split (the build's split rule decided it).
        around: ``(osm_id, tags, covers_centre)`` of the other features in the chip, nearest
            first (:meth:`_Context.around`).
        writer: Encode and write on this thread (then the record's pixel hash is filled in
            once the write is done: :func:`make_partition` waits for it).
        shapes: ``osm_id -> geometry`` of the chip's objects: the record gets their
            region-text pairs (:mod:`rsvl.builders.regions`) in ``extra["regions"]`` and a
            long description (:mod:`rsvl.captions.long`) in ``extra["long_captions"]``.
            A :class:`~rsvl.builders.regions.RegionShapes` converts each feature for
            rasterisation once for all the partition's chips.

    Raises:
        ChipRejected: The chip's pixels are unusable (the reason says why).
    """
    chip = read_chip(imagery, bounds, settings.rule.chip_size, settings.bands, settings.strict)
    check_pixels(chip.rgb, chip.valid, settings.rule)
    key = sample_key(settings.source, osm_id)
    captions = make_captions(tags, [t for _, t, _ in around],
                             seed=f"{settings.seed}:{key}", n=settings.captions_per_chip,
                             inside=[covers for _, _, covers in around])
    image = chip_path(key, settings.rule.image_format)
    record: dict[str, Any] = {
        "key": key, "image": image, "captions": captions, "split": split,
        "source": settings.source, "licence": settings.licence,
        "osm_ids": [osm_id] + [i for i, _, _ in around], "tags": tags,
        "footprint": [float(v) for v in chip.bounds], "crs": chip.crs,
        "gsd_m": float(chip.gsd_m), "extra": {"pixel_sha256": ""},
    }
    if shapes is not None:
        regions = chip_regions(bounds, chip.rgb.shape[:2],
                               [(osm_id, tags), *((i, t) for i, t, _ in around)], shapes)
        described = long_description(regions, chip.rgb.shape[:2], osm_id, f"{settings.seed}:{key}")
        record["extra"] |= {"regions": regions, "long_captions": [described] if described else []}
    # Record validates the fields; the plain dict is returned as it is because
    # Record.to_dict's deep copy (dataclasses.asdict) costs as much as captioning the chip.
    Record(**record)
    if writer is None:
        record["extra"]["pixel_sha256"] = _encode_write(
            chip.rgb, settings.rule.image_format, root / image, chip.encode)
        return record
    written = writer.submit(chip.rgb, settings.rule.image_format, root / image,
                            chip.encode)
    done: Future[dict[str, Any]] = Future()

    def finish(future: Future[str]) -> None:
        error = future.exception()
        if error is not None:
            done.set_exception(error)
        else:
            record["extra"]["pixel_sha256"] = future.result()
            done.set_result(record)

    written.add_done_callback(finish)
    return done


def make_partition(task: PartitionTask) -> None:
    """Read, check, caption and write the chips ``task.reads`` names; write the result file.

    Each result row is ``{"record": {...}}`` for a kept chip or ``{"osm_id": ..., "rejected":
    reason}`` for one whose pixels are unusable, in the focus objects' order.
    """
    imagery = worker_imagery(task.imagery)
    reads = task.reads or {}
    chosen = [(osm_id, tags, wkb) for osm_id, tags, wkb in task.focus if osm_id in reads]
    footprints = shapely.bounds(shapely.from_wkb([wkb for _, _, wkb in chosen])).tolist()
    framed = [(osm_id, tags, frame_sample(task.settings, imagery, tuple(object_bounds)))
              for (osm_id, tags, _), object_bounds in zip(chosen, footprints, strict=True)]
    context = _Context(task.context)
    arounds = context.around([bounds for _, _, bounds in framed],
                             [osm_id for osm_id, _, _ in framed])
    rows: list[dict[str, Any] | Future[dict[str, Any]]] = []
    writer = _Encoded()
    try:
        for (osm_id, tags, bounds), around in zip(framed, arounds, strict=True):
            try:
                rows.append(make_sample(task.settings, imagery, task.root, osm_id, tags, bounds,
                                        reads[osm_id], around, writer,
                                        context.shapes if task.settings.regions else None))
            except ChipRejected as rejection:
                rows.append({"osm_id": osm_id, "rejected": rejection.reason})
    finally:
        writer.close()
    write_result(task.result, [{"record": row.result()} if isinstance(row, Future) else row
                               for row in rows])
