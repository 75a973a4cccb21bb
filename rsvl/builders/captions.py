"""The caption dataset build: OSM features + imagery -> chips, records, shards, Parquet, manifest.

Stages (each resumable):

1. read the features around the imagery, clean their tags, pick the focus objects;
2. frame every focus object's chip (no pixel read), then in one process, in key order, remove
   near-duplicates and apply the split rule (:mod:`rsvl.builders.splits`: the cell of the
   chip's centre, or on a region too small for cells one region grown per held-out split,
   and a guard band between splits) over all chips' footprints;
3. per spatial partition, in a process pool: read, check, caption and write only the chips
   kept (``OUT/.partitions/round0/p00003.jsonl`` marks a partition complete); a chip rejected
   for its pixels may free a neighbour it suppressed, which a next round reads;
4. optionally keep the top CLIP scores;
5. write ``records.jsonl``, WebDataset shards, Parquet splits, the footprint index and the
   manifest (with the split cells used and, per split, chips kept and dropped), all derived
   from the kept records.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from rsvl.builders.chips import OUTSIDE_IMAGERY
from rsvl.builders.export import (
    open_clip_command,
    open_clip_recipe,
    write_footprints,
    write_parquet,
    write_shards,
)
from rsvl.builders.filters import (
    Candidate,
    Selection,
    keep_top_fraction,
    near_duplicates,
    select_chips,
)
from rsvl.builders.focus import FocusFeatures, load_focus_features, sample_key
from rsvl.builders.guards import planning_area
from rsvl.builders.manifest import describe_inputs, write_manifest
from rsvl.builders.partitions import (
    partition_of,
    plan_partitions,
    read_result,
    result_path,
    run_partitions,
    start_forked,
)
from rsvl.builders.samples import (
    PartitionTask,
    SampleSettings,
    frame_partition,
    make_partition,
)
from rsvl.builders.settings import (
    PARTITIONS_DIR,
    RECORDS_FILE,
    CaptionBuildConfig,
    check_resumable,
    chip_reach,
    native_resolution,
)
from rsvl.builders.splits import SplitPlan, plan_splits
from rsvl.data.atomic import remove_stale_temporaries
from rsvl.data.records import OSM_ATTRIBUTION, SPLITS, Record, write_records
from rsvl.data.shards import SHARDS_DIR
from rsvl.errors import ConfigError
from rsvl.imagery import open_imagery
from rsvl.imagery.base import Imagery


@dataclass
class BuildResult:
    """What a build produced.

    Attributes:
        root: Dataset root.
        records: Kept records, in output order.
        rejected: Rejected focus objects per reason.
        focus: The prepared features (their vocabulary report included).
        manifest: The manifest's content.
        seconds: Wall time per stage (``features``, ``chips``, ``filters``, ``outputs``).
        cpu_seconds: CPU time per stage, of this process and of its worker processes once
            they have exited (less sensitive than wall time to other users of the machine).
    """

    root: Path
    records: list[Record]
    rejected: Counter[str]
    focus: FocusFeatures
    manifest: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for the terminal: counts per split and rejections per reason."""
        per_split = Counter(r.split for r in self.records)
        lines = [
            f"{len(self.records)} chips in {self.root} ("
            + ", ".join(f"{s} {per_split[s]}" for s in SPLITS) + ")",
            "rejected: " + (", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items()))
                            or "none"),
        ]
        split = self.manifest.get("split")
        if split:
            how = ("chosen from the chips" if split["cell_m_chosen"] != "given" else "given")
            where = (f"split cells: {split['cell_m']:.0f} m ({how})"
                     if split.get("method", "cells") == "cells" else
                     "split: one grown region per held-out split (no cell side fits)")
            lines.append(f"{where}; dropped near another split: " + ", ".join(
                             f"{s} {n['dropped_near_other_split']}"
                             for s, n in split["per_split"].items()))
            empty = [s for s, f in zip(SPLITS, split["fractions"], strict=True)
                     if f > 0 and not split["per_split"][s]["kept"]]
            if empty:
                lines.append(f"no {'/'.join(empty)} chips: the area spans too few split cells "
                             "of chips this size; give smaller --split-cell-m (loses more "
                             "chips) or --split-guard-m 0 (no gap, only no shared pixel)")
        if "open_clip" in self.manifest:
            lines.append(open_clip_command(self.manifest["open_clip"]))
        return "\n".join(lines)


def _cpu_time() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class _StageClock:
    """Wall and CPU time of consecutive stages."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self._last = time.perf_counter()
        self._last_cpu = _cpu_time()

    def lap(self, stage: str) -> None:
        now, cpu = time.perf_counter(), _cpu_time()
        self.seconds[stage] = now - self._last
        self.cpu_seconds[stage] = cpu - self._last_cpu
        self._last, self._last_cpu = now, cpu


def _sample_settings(config: CaptionBuildConfig, imagery: Imagery) -> SampleSettings:
    if config.captions_per_chip < 1:
        raise ConfigError(f"captions per chip must be at least 1, got {config.captions_per_chip}")
    return SampleSettings(
        source=config.source,
        licence=f"imagery: {imagery.licence}; OSM: {OSM_ATTRIBUTION}",
        rule=config.rule,
        native_res=native_resolution(imagery),
        captions_per_chip=config.captions_per_chip,
        seed=config.seed,
        bands=config.bands,
        strict=config.strict,
        regions=config.regions,
    )


def plan_tasks(config: CaptionBuildConfig, imagery: Imagery, focus: FocusFeatures,
               settings: SampleSettings) -> dict[Path, PartitionTask]:
    """One task per partition holding focus objects, with the features around it."""
    root = Path(config.out)
    folder = root / PARTITIONS_DIR
    tile_size = config.partition_px * settings.native_res
    frame = focus.frame[focus.frame["phrase"].notna()]
    # A worldwide source (a tile server without bounds) is planned where the features are.
    area = planning_area(imagery, tile_size,
                         lambda: tuple(frame.total_bounds) if len(frame) else None)
    partitions = plan_partitions(area, tile_size)
    wkb = shapely.to_wkb(frame.geometry.values)
    rows = list(zip(frame["osm_id"], frame["tags"], wkb, strict=True))
    tasks: dict[int, PartitionTask] = {}
    for row, bounds in zip(rows, frame.geometry.bounds.itertuples(index=False), strict=True):
        centre = ((bounds.minx + bounds.maxx) / 2, (bounds.miny + bounds.maxy) / 2)
        index = partition_of(centre, area, tile_size)
        if index not in tasks:
            result = result_path(folder, partitions[index])
            tasks[index] = PartitionTask(result, root, imagery, settings)
        tasks[index].focus.append(row)
    reach = chip_reach(config, settings)
    tree = shapely.STRtree(frame.geometry.values)
    for index, task in tasks.items():
        minx, miny, maxx, maxy = partitions[index].bounds
        near = tree.query(shapely.box(minx - reach, miny - reach, maxx + reach, maxy + reach))
        task.context = [rows[i] for i in sorted(near.tolist())]
    return {task.result: task for _, task in sorted(tasks.items())}


FRAMES_DIR = "frames"


def _frames(tasks: dict[Path, Any], work: Callable[[Any], None], config: CaptionBuildConfig
            ) -> dict[Path, list[dict[str, Any]]]:
    """Every partition's framed chips (:func:`rsvl.builders.samples.frame_partition` rows).

    Features in memory are framed here (it reads no pixel and costs less than shipping the
    tasks to workers); partitions whose features are on disk are framed where they run.
    """
    if config.scheduler is None:
        return {path: frame_partition(task) for path, task in tasks.items()}
    framing = {path.parent / FRAMES_DIR / path.name: dataclasses.replace(task, result=path.parent
                                                                          / FRAMES_DIR / path.name)
               for path, task in tasks.items()}
    run_partitions(framing, work, workers=config.workers, description="frames",
                   scheduler=config.scheduler)
    return {path: list(read_result(frames)) for path, frames in zip(tasks, framing, strict=True)}


@dataclass
class _Chips:
    """The chip stage's state across read rounds."""

    candidates: list[Candidate] = field(default_factory=list)
    home: dict[str, tuple[Path, str]] = field(default_factory=dict)  # key -> (task, osm_id)
    kinds: dict[str, str | None] = field(default_factory=dict)  # key -> focus OSM key
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # read and valid
    pixels: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # key -> reason, pixels unusable
    rejected_unframed: Counter[str] = field(default_factory=Counter)


def _plan_splits(candidates: list[Candidate], kinds: dict[str, str | None],
                 config: CaptionBuildConfig) -> SplitPlan:
    """The split plan of the candidates that are not near-duplicates by footprint."""
    duplicates = near_duplicates([c.footprint for c in candidates], [c.crs for c in candidates],
                                 [None] * len(candidates), config.max_iou)
    unique = [c for i, c in enumerate(candidates) if i not in duplicates]
    return plan_splits(np.array([c.grid for c in unique]).reshape(-1, 4), config.split,
                       config.seed, [kinds.get(c.key) for c in unique])


def make_chips(tasks: dict[Path, Any], work: Callable[[Any], None], config: CaptionBuildConfig,
               crs: str) -> tuple[_Chips, Selection]:
    """Frame all chips, choose the ones to keep, read only those (in rounds, see below).

    Near-duplicates and split safety are decided over all framed chips before any window is
    read (:func:`rsvl.builders.filters.select_chips`); a chip whose pixels then turn out
    unusable may have suppressed a neighbour, so selection runs again with what the reads
    showed and the newly kept chips are read, until every kept chip has been read (rarely more
    than two rounds). Round ``n``'s partition results are ``OUT/.partitions/round{n}/``: a
    rerun resumes, and the outcome does not depend on the workers or the partitioning.
    """
    state = _Chips()
    for path, rows in _frames(tasks, work, config).items():
        for row in rows:
            if "rejected" in row:
                state.rejected_unframed[row["rejected"]] += 1
                continue
            state.candidates.append(Candidate(row["key"], row["footprint"], crs, row["grid"]))
            state.kinds[row["key"]] = row.get("kind")
            state.home[row["key"]] = (path, row["osm_id"])
    state.candidates.sort(key=lambda c: c.key)
    # The splits are planned once, from the chips that are not near-duplicates of one another
    # by footprint (pixels unknown yet), so later rounds do not move them...
    plan = _plan_splits(state.candidates, state.kinds, config)
    planned_around = 0  # rejected chips the plan knows of
    for round_number in itertools.count():
        live = [c for c in state.candidates if c.key not in state.rejected]
        if plan.method != "cells" and len(state.rejected) > planned_around:
            # ...except grown regions, which depend on every chip in them: those rejected for
            # their pixels (nodata along the imagery's edge) are planned around, and the kept
            # records take the final plan's splits (build_captions).
            plan, planned_around = _plan_splits(live, state.kinds, config), len(state.rejected)
        selection = select_chips(live, state.pixels, config.max_iou, config.split,
                                 config.seed, plan)
        unread = [key for key in selection.kept if key not in state.records]
        if not unread:
            return state, selection
        reads: dict[Path, dict[str, str]] = {}
        for key in unread:
            path, osm_id = state.home[key]
            reads.setdefault(path, {})[osm_id] = selection.splits[key]
        folder = next(iter(tasks)).parent / f"round{round_number}"
        round_tasks = {folder / path.name: dataclasses.replace(
            tasks[path], result=folder / path.name, reads=chosen)
            for path, chosen in sorted(reads.items())}
        run_partitions(round_tasks, work, workers=config.workers, description="chips",
                       scheduler=config.scheduler, cost=lambda task: len(task.reads or ()))
        for path in round_tasks:
            for row in read_result(path):
                if "record" in row:
                    key = row["record"]["key"]
                    state.records[key] = row["record"]
                    state.pixels[key] = row["record"]["extra"]["pixel_sha256"]
                else:
                    key = sample_key(config.source, row["osm_id"])
                    state.rejected[key] = row["rejected"]
    raise AssertionError("unreachable")  # pragma: no cover


def _write_outputs(root: Path, records: list[Record], config: CaptionBuildConfig
                   ) -> tuple[dict[str, int], dict[str, int]]:
    """Records, shards, Parquet and footprints of the kept records: shards and Parquet per
    split counts. With more than one worker the shards (the largest output) are written by a
    forked copy of this process meanwhile (nothing to pickle but the counts), so the stage
    after the pool is not all serial."""
    shards = (start_forked(write_shards, root, records, config.shard_size) if config.workers > 1
              else None)
    write_records(root / RECORDS_FILE, records)
    per_split = write_parquet(root, records)
    write_footprints(root, records)
    return (shards() if shards else write_shards(root, records, config.shard_size)), per_split


def build_captions(config: CaptionBuildConfig, command: list[str] | None = None) -> BuildResult:
    """Build a caption dataset; a rerun with the same configuration resumes.

    Args:
        config: What to build and how.
        command: The command line to record in the manifest (default: ``sys.argv``).

    Returns:
        The kept records, rejection counts, vocabulary and manifest.

    Raises:
        InputError: A reader failed, or no OSM feature overlaps the imagery.
        ConfigError: An invalid setting, or ``out`` holds a build with other settings.
    """
    root = Path(config.out)
    clock = _StageClock()
    imagery = open_imagery(config.imagery, licence=config.licence, **config.imagery_options)
    settings = _sample_settings(config, imagery)
    if config.scheduler is None:
        focus = load_focus_features(config.osm, imagery, config.read_options)
        check_resumable(root / PARTITIONS_DIR, config.to_dict())
        tasks: dict[Path, Any] = plan_tasks(config, imagery, focus, settings)
        work: Callable[[Any], None] = make_partition
    else:
        from rsvl.builders.partition_features import make_file_partition, plan_file_tasks

        focus, tasks = plan_file_tasks(config, imagery, settings, root / PARTITIONS_DIR)
        check_resumable(root / PARTITIONS_DIR, config.to_dict())
        work = make_file_partition
    remove_stale_temporaries(root)  # half-written files of a killed run
    clock.lap("features")
    state, selection = make_chips(tasks, work, config, imagery.crs)
    clock.lap("chips")
    rejected = Counter(state.rejected_unframed)
    rejected.update(state.rejected.values())
    rejected.update(selection.dropped.values())
    if focus.outside:
        rejected[OUTSIDE_IMAGERY] += focus.outside
    records = [Record.from_dict({**state.records[key], "split": selection.splits[key]})
               for key in selection.kept]
    if config.clip_filter:
        from rsvl.builders.clip_filter import cached_clip_scores

        scores = cached_clip_scores(root, records, config.clip_filter,
                                    root / PARTITIONS_DIR / "clip_scores.json")
        records, clipped = keep_top_fraction(records, scores, config.keep_top)
        rejected.update(clipped.values())
    kept = {record.key for record in records}
    for key, row in state.records.items():  # read, then suppressed or cut: not an output
        if key not in kept:
            (root / row["image"]).unlink(missing_ok=True)
    clock.lap("filters")
    shards, per_split = _write_outputs(root, records, config)
    recipe = open_clip_recipe(Path(config.out) / SHARDS_DIR, shards, per_split)
    manifest = write_manifest(
        root,
        command=list(command if command is not None else sys.argv),
        config=config.to_dict(),
        inputs=describe_inputs({"osm": config.osm, "imagery": config.imagery}),
        counts={"chips": len(records),
                "focus_objects": focus.vocabulary.features_seen + focus.outside, **per_split},
        rejected=rejected,
        imagery_licence=imagery.licence,
        extra={"shards": shards, "open_clip": recipe,
               "imagery_crs": imagery.crs, "imagery_gsd_m": imagery.gsd_m,
               "split": selection.report, "tag_vocabulary": focus.vocabulary.to_dict()},
    )
    clock.lap("outputs")
    return BuildResult(root, records, rejected, focus, manifest, clock.seconds,
                       clock.cpu_seconds)
