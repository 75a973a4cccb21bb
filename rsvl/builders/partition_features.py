"""Split an OSM extract by spatial partition, streaming it once, so workers read only their part.

For builds on a cluster the client does not load the extract and ship features inside tasks:
it streams the extract (``rsvl.osm.iter_features``) chunk by chunk, prepares each chunk as
:func:`rsvl.builders.focus.load_focus_features` does (imagery CRS, cleaned tags, phrases, inside
the imagery) and appends it to one folder of GeoParquet pieces per partition of the build's
grid (``OUT/.partitions/features/p00003/c000000.parquet``). A feature goes to every partition
its envelope touches within a chip's reach (its context) and is flagged as a focus object
only in the partition holding its centre, exactly as :func:`rsvl.builders.captions.plan_tasks`
assigns them: the same chips, none built twice, byte-identical outputs.

The split is written under a temporary name and renamed when complete, with a summary
(vocabulary, counts per partition), so a rerun reuses it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from rsvl.builders.focus import FocusFeatures
from rsvl.builders.guards import planning_area
from rsvl.builders.partitions import Bounds, Partition, partition_of, plan_partitions, result_path
from rsvl.builders.samples import PartitionTask, SampleSettings, frame_result, make_partition
from rsvl.builders.settings import CaptionBuildConfig, chip_reach
from rsvl.data.atomic import write_json
from rsvl.errors import InputError
from rsvl.imagery.base import Imagery
from rsvl.imagery.geo import WGS84, transform_bounds
from rsvl.osm import iter_features
from rsvl.osm.readers import DEFAULT_CHUNK_SIZE
from rsvl.osm.tags import TagVocabulary, clean_tags, describe

FEATURES_DIR = "features"
SUMMARY_FILE = "split.json"


@dataclass
class FilePartitionTask:
    """A partition whose features a worker reads from its own folder of GeoParquet pieces.

    Attributes:
        result: The partition's result file (written last, atomically).
        root: Dataset root.
        imagery: The imagery reader (pickles without its file handle).
        settings: Shared sample settings.
        features: The partition's folder of pieces.
        reads: As :attr:`rsvl.builders.samples.PartitionTask.reads` (``None``: frame only).
    """

    result: Path
    root: Path
    imagery: Imagery
    settings: SampleSettings
    features: Path
    reads: dict[str, str] | None = None


@dataclass
class FeatureSplit:
    """A finished split: where it is, and what the build reports about the features.

    Attributes:
        folder: ``OUT/.partitions/features``.
        focus_counts: Partition index -> focus objects in it (only partitions with some).
        vocabulary: Phrase counts of the focus objects inside the imagery.
        outside: Focus objects read near the imagery whose footprint misses it.
        area: The area the partition grid covers (:func:`rsvl.builders.guards.planning_area`).
    """

    folder: Path
    focus_counts: dict[int, int]
    vocabulary: TagVocabulary
    outside: int
    area: Bounds


def _prepare(chunk: gpd.GeoDataFrame, imagery: Imagery, vocabulary: TagVocabulary
             ) -> tuple[gpd.GeoDataFrame, int]:
    """A raw chunk -> its groundable features inside the imagery (imagery CRS); outside count."""
    frame = chunk.to_crs(imagery.crs)
    raw_tags = list(frame["tags"])
    frame["tags"] = [clean_tags(tags) for tags in raw_tags]
    focus = np.array([describe(tags) is not None for tags in frame["tags"]], dtype=bool)
    inside = frame.geometry.intersects(shapely.box(*imagery.bounds)).to_numpy()
    vocabulary.update(tags for tags, keep in zip(raw_tags, focus & inside, strict=True) if keep)
    return frame.loc[focus & inside].reset_index(drop=True), int((focus & ~inside).sum())


def _write_pieces(frame: gpd.GeoDataFrame, partitions: list[Partition], area: Bounds,
                  tile_size: float, reach: float, folder: Path, chunk: int) -> Counter[int]:
    """Append one prepared chunk to the pieces of every partition it touches."""
    bounds = frame.geometry.bounds.to_numpy()
    home = np.array([partition_of(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2), area, tile_size)
                     for b in bounds], dtype=np.int64)
    reach_boxes = shapely.box(*np.array([[p.bounds[0] - reach, p.bounds[1] - reach,
                                          p.bounds[2] + reach, p.bounds[3] + reach]
                                         for p in partitions]).T)
    # Envelope test, as plan_tasks's STRtree query: a feature is context wherever it may show.
    feature_at, partition_at = shapely.STRtree(reach_boxes).query(frame.geometry.values)
    touched = pd.DataFrame({"feature": feature_at, "partition": partition_at, "context": True})
    homes = pd.DataFrame({"feature": np.arange(len(frame)), "partition": home, "focus": True})
    roles = touched.merge(homes, on=["feature", "partition"], how="outer")
    roles = roles.fillna({"context": False, "focus": False})
    for index, rows in roles.groupby("partition", sort=True):
        piece = frame.iloc[rows["feature"].to_numpy()].reset_index(drop=True)
        piece["tags"] = [json.dumps(tags, ensure_ascii=False) for tags in piece["tags"]]
        piece["focus"] = rows["focus"].astype(bool).to_numpy()
        piece["context"] = rows["context"].astype(bool).to_numpy()
        target = folder / partitions[int(index)].name / f"c{chunk:06d}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        piece.to_parquet(target, index=False)
    return Counter({int(i): int(n) for i, n in homes["partition"].value_counts().items()})


def split_features(osm: str, imagery: Imagery, tile_size: float, reach: float, folder: Path,
                   read_options: Mapping[str, Any] | None = None,
                   chunk_size: int = DEFAULT_CHUNK_SIZE) -> FeatureSplit:
    """Stream ``osm`` once and write its features per partition under ``folder`` (or reuse it).

    Args:
        osm: Any source ``rsvl.osm.iter_features`` reads.
        imagery: The imagery the chips come from (its bounds define the partition grid).
        tile_size: Partition side in imagery CRS units.
        reach: How far beyond its partition a feature can still appear in a chip.
        folder: Destination (``OUT/.partitions/features``).
        read_options: Further keyword arguments for ``iter_features`` (``default_tags``...).
        chunk_size: Features per streamed chunk.

    Raises:
        InputError: The extract cannot be read, or no groundable feature overlaps the imagery.
    """
    inputs = {"osm": str(osm), "imagery": imagery.source, "tile_size": tile_size,
              "reach": reach, "read_options": json.loads(json.dumps(dict(read_options or {})))}
    if (folder / SUMMARY_FILE).is_file():
        state = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
        if state["inputs"] == inputs and "area" in state:  # older splits lack the area
            return _from_summary(folder, state)
    bbox = transform_bounds(imagery.bounds, imagery.crs, WGS84)
    # A worldwide source is planned where the features are: one more pass finds them, as
    # plan_tasks finds them in memory (same area, same partitions).
    area = planning_area(imagery, tile_size,
                         lambda: _focus_extent(osm, imagery, bbox, chunk_size, read_options))
    partitions = plan_partitions(area, tile_size)
    building = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    vocabulary, outside, counts = TagVocabulary(), 0, Counter[int]()
    chunks = iter_features(osm, bbox, chunk_size, **dict(read_options or {}))
    for number, chunk in enumerate(chunks):
        frame, missed = _prepare(chunk, imagery, vocabulary)
        outside += missed
        if len(frame):
            counts += _write_pieces(frame, partitions, area, tile_size, reach, building,
                                    number)
    if not counts:
        shutil.rmtree(building, ignore_errors=True)
        raise InputError(
            f"no groundable OSM feature of {osm} overlaps imagery {imagery.source} (bounds "
            f"{imagery.bounds} in {imagery.crs}): check that they cover the same area"
        )
    write_json(building / SUMMARY_FILE, {
        "inputs": inputs, "focus_counts": {str(i): n for i, n in sorted(counts.items())},
        "vocabulary": _vocabulary_state(vocabulary), "outside": outside, "area": list(area)})
    shutil.rmtree(folder, ignore_errors=True)
    building.rename(folder)
    return FeatureSplit(folder, dict(sorted(counts.items())), vocabulary, outside, area)


def _focus_extent(osm: str, imagery: Imagery, bbox: Bounds, chunk_size: int,
                  read_options: Mapping[str, Any] | None) -> Bounds | None:
    """Bounds of the focus objects inside the imagery (imagery CRS), streamed once."""
    boxes = []
    for chunk in iter_features(osm, bbox, chunk_size, **dict(read_options or {})):
        frame, _ = _prepare(chunk, imagery, TagVocabulary())
        if len(frame):
            boxes.append(frame.total_bounds)
    if not boxes:
        return None
    stacked = np.array(boxes)
    return (float(stacked[:, 0].min()), float(stacked[:, 1].min()),
            float(stacked[:, 2].max()), float(stacked[:, 3].max()))


def _vocabulary_state(vocabulary: TagVocabulary) -> dict[str, Any]:
    """The vocabulary's counters as JSON (tuples as two-item lists, order kept)."""
    return {
        name: [[*key, n] for key, n in getattr(vocabulary, name).items()]
        for name in ("features", "attributes", "fallbacks")
    } | {"dropped": dict(vocabulary.dropped), "hidden": vocabulary.hidden,
         "features_seen": vocabulary.features_seen}


def _from_summary(folder: Path, state: dict[str, Any]) -> FeatureSplit:
    saved = state["vocabulary"]
    vocabulary = TagVocabulary(
        **{name: Counter({(k, p): n for k, p, n in saved[name]})
           for name in ("features", "attributes", "fallbacks")},
        dropped=Counter(saved["dropped"]), hidden=saved["hidden"],
        features_seen=saved["features_seen"])
    counts = {int(i): n for i, n in state["focus_counts"].items()}
    area: Bounds = tuple(state["area"])  # type: ignore[assignment]
    return FeatureSplit(folder, counts, vocabulary, state["outside"], area)


def plan_file_tasks(config: CaptionBuildConfig, imagery: Imagery, settings: SampleSettings,
                    results: Path, chunk_size: int = DEFAULT_CHUNK_SIZE
                    ) -> tuple[FocusFeatures, dict[Path, FilePartitionTask]]:
    """Split the build's OSM extract (or reuse the split) and plan one task per partition.

    Args:
        config: The build's configuration.
        imagery: The imagery the chips come from.
        settings: The build's sample settings.
        results: The partitions' folder (``OUT/.partitions``); the split goes in its
            ``features`` subfolder.
        chunk_size: Features per streamed chunk.

    Returns:
        The features' report (``frame`` left empty: the features stay on disk) and the tasks
        of the partitions holding focus objects, in partition order (as ``plan_tasks``).
    """
    tile_size = config.partition_px * settings.native_res
    split = split_features(config.osm, imagery, tile_size, chip_reach(config, settings),
                           results / FEATURES_DIR, config.read_options, chunk_size)
    partitions = plan_partitions(split.area, tile_size)
    tasks = [FilePartitionTask(result_path(results, partitions[i]), Path(config.out), imagery,
                               settings, split.folder / partitions[i].name)
             for i in sorted(split.focus_counts)]
    frame = gpd.GeoDataFrame({"osm_id": [], "tags": [], "phrase": []},
                             geometry=gpd.GeoSeries([], crs=imagery.crs))
    focus = FocusFeatures(frame, split.vocabulary, split.outside)
    return focus, {task.result: task for task in tasks}


def read_partition(folder: Path) -> tuple[list[tuple[str, dict[str, str], bytes]],
                                          list[tuple[str, dict[str, str], bytes]]]:
    """A partition's ``(focus, context)`` rows ``(osm_id, tags, wkb)``, each sorted by osm_id."""
    pieces = [gpd.read_parquet(path) for path in sorted(folder.glob("c*.parquet"))]
    frame = pd.concat(pieces, ignore_index=True).sort_values("osm_id", kind="stable")
    rows = list(zip(frame["osm_id"], (json.loads(t) for t in frame["tags"]),
                    shapely.to_wkb(frame.geometry.values), strict=True))
    focus = [row for row, keep in zip(rows, frame["focus"], strict=True) if keep]
    context = [row for row, keep in zip(rows, frame["context"], strict=True) if keep]
    return focus, context


def make_file_partition(task: FilePartitionTask) -> None:
    """Read one partition's features from its pieces and frame its chips, or make the samples
    ``task.reads`` names (a worker's job)."""
    focus, context = read_partition(task.features)
    partition = PartitionTask(task.result, task.root, task.imagery, task.settings, focus,
                              context, task.reads)
    if task.reads is None:
        frame_result(partition)
    else:
        make_partition(partition)
