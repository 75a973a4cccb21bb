"""Build an RSVQA-style question set: OSM features + imagery -> chips + questions, RSVQA layout.

Unlike the caption build (one chip per object), RSVQA asks about a regular grid of image
tiles, so the imagery is cut into square chips (row-major grid; the grid index is the image
id). Reused from the caption builder: feature loading (``rsvl.builders.focus``), pixel checks
(``rsvl.builders.chips``), the split rule (``rsvl.builders.splits``: a chip takes the split of
the cell holding its centre, and chips too close to another split's are dropped) and the
resumable process-pool partitions
(``rsvl.builders.partitions``: ``OUT/.partitions/p00003.jsonl`` marks a partition done).

Output::

    OUT/Images_{NAME}/{id}.png
    OUT/{NAME}_split_{train,val,test}_{questions,answers,images}.json
    OUT/manifest.json
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from rsvl.builders.chips import ChipRejected, ChipRule, check_pixels
from rsvl.builders.focus import load_focus_features
from rsvl.builders.guards import MAX_GRID_CHIPS, planning_area, read_chip
from rsvl.builders.manifest import describe_inputs, write_manifest
from rsvl.builders.partitions import (
    partition_of,
    plan_partitions,
    read_result,
    result_path,
    run_partitions,
    write_result,
)
from rsvl.builders.settings import PARTITIONS_DIR, check_resumable, native_resolution
from rsvl.builders.splits import (
    NEAR_OTHER_SPLIT,
    OVERLAPS_TRAINING,
    SplitRule,
    decide_splits,
    grid_boxes,
)
from rsvl.config import to_dict as config_to_dict
from rsvl.data.atomic import atomic_open, remove_stale_temporaries
from rsvl.data.records import OSM_ATTRIBUTION, SPLITS
from rsvl.errors import ConfigError
from rsvl.imagery import open_imagery
from rsvl.imagery.base import Imagery
from rsvl.imagery.geo import metres_per_unit
from rsvl.vqa.questions import (
    ChipScene,
    QuestionOptions,
    balance_answers,
    chip_questions,
    get_category,
    list_categories,
)
from rsvl.vqa.rsvl_format import VqaQuestion, write_rsvqa

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class VqaBuildConfig:
    """Configuration of an RSVQA-style build.

    Attributes:
        osm: OSM source (any format ``rsvl.osm.read_features`` reads).
        imagery: Imagery source (GeoTIFF/COG/VRT, tile folder, MBTiles).
        out: Output folder (a rerun with the same settings resumes).
        name: File prefix and image folder suffix (``LR`` gives ``LR_split_*``, ``Images_LR``).
        licence: Imagery licence, recorded in the manifest.
        chip_size: Chip side in pixels.
        chip_gsd_factor: Chip pixel size as a multiple of the native one (2: coarser chips).
        image_format: ``png`` or ``jpg``.
        seed: Seed of question sampling, balancing and split cells.
        split: How chips are assigned to train/val/test (cells, fractions, guard band).
        questions: What to ask (categories, attributes, relations, bins, balance).
        partition_px: Side of a work partition in native pixels.
        workers: Worker processes (the output does not depend on it).
        bands: 1-based source bands for RGB (``None``: the reader's default).
        read_options: Extra keyword arguments for ``rsvl.osm.read_features``.
        imagery_options: Reader options for :func:`rsvl.imagery.open_imagery` (a tile
            server's ``max_zoom``, ``cache``, ``missing``...).
        min_valid_fraction, min_pixel_std: Chip rejection thresholds (as in the caption build).
        strict: Stop at the first unreadable tile or window (one line naming it) instead of
            skipping its chip and counting it in the manifest's rejections.
        exclude_training: A caption build over the same ground: held-out chips sharing pixels
            with its training chips are left out (``overlaps_training_chip``), so a model
            trained on it is not tested on pixels it saw.
    """

    osm: str
    imagery: str
    out: str
    name: str = "OSM"
    licence: str = "unknown"
    chip_size: int = 256
    chip_gsd_factor: float = 1.0
    image_format: str = "png"
    seed: int = 0
    split: SplitRule = field(default_factory=SplitRule)
    questions: QuestionOptions = field(default_factory=QuestionOptions)
    partition_px: int = 4096
    workers: int = 1
    bands: tuple[int, ...] | None = None
    read_options: dict[str, Any] = field(default_factory=dict)
    imagery_options: dict[str, Any] = field(default_factory=dict)
    min_valid_fraction: float = 0.98
    min_pixel_std: float = 2.0
    strict: bool = False
    exclude_training: str | None = None

    def __post_init__(self) -> None:
        if self.chip_gsd_factor <= 0:
            raise ConfigError(f"chip_gsd_factor must be positive, got {self.chip_gsd_factor}")
        self.rule  # noqa: B018 -- ChipRule validates chip size and image format

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-serialisable values."""
        return config_to_dict(self)

    @property
    def rule(self) -> ChipRule:
        """The chip rule of the pixel checks."""
        return ChipRule(chip_size=self.chip_size, image_format=self.image_format,
                        min_valid_fraction=self.min_valid_fraction,
                        min_pixel_std=self.min_pixel_std)


@dataclass
class ChipTask:
    """One partition's chips and the features around them (picklable).

    Attributes:
        result: The partition's result file (written last, atomically).
        image_dir: Folder of the chip images.
        imagery: The imagery reader.
        config: The build configuration.
        chips: ``(image id, bounds, split)`` of the partition's chips.
        features: ``(tags, wkb)`` of the features near the partition, imagery CRS.
    """

    result: Path
    image_dir: Path
    imagery: Imagery
    config: VqaBuildConfig
    chips: list[tuple[int, Bounds, str]] = field(default_factory=list)
    features: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


def make_chips(task: ChipTask) -> None:
    """Read, check and write each chip of a partition, ask its questions, write the result."""
    config, imagery = task.config, task.imagery
    geometries = shapely.from_wkb([wkb for _, wkb in task.features])
    tree = shapely.STRtree(geometries)
    categories = [get_category(n) for n in config.questions.categories or list_categories()]
    rows: list[dict[str, Any]] = []
    for image_id, bounds, split in task.chips:
        try:
            chip = read_chip(imagery, bounds, config.chip_size, config.bands, config.strict)
            check_pixels(chip.rgb, chip.valid, config.rule)
        except ChipRejected as rejection:
            rows.append({"image_id": image_id, "rejected": rejection.reason})
            continue
        with atomic_open(task.image_dir / f"{image_id}.{config.image_format}", "wb") as handle:
            handle.write(chip.encode(config.image_format))
        near = sorted(tree.query(shapely.box(*bounds)).tolist())
        mx, my = metres_per_unit(imagery.crs, (bounds[0] + bounds[2]) / 2,
                                 (bounds[1] + bounds[3]) / 2)
        scene = ChipScene.from_features(((task.features[i][0], geometries[i]) for i in near),
                                        bounds, math.sqrt(mx * my), categories)
        questions = chip_questions(scene, config.questions, f"{config.seed}:{image_id}")
        rows.append({"image_id": image_id, "split": split, "bounds": list(bounds),
                     "gsd_m": chip.gsd_m,
                     "questions": [dataclasses.asdict(q) for q in questions]})
    write_result(task.result, rows)


def plan_chips(config: VqaBuildConfig, imagery: Imagery, extent: Bounds | None = None
               ) -> tuple[list[tuple[int, Bounds, str]], Counter[str], dict[str, Any]]:
    """The grid chips inside the imagery with their split; chips too close to another split's
    are counted, not returned.

    A worldwide source is cut only within ``extent`` (the OSM features' bounds), on the lines
    of the whole imagery's grid (:func:`rsvl.builders.guards.planning_area`).

    Returns:
        ``(image id, bounds, split)`` per chip, rejections per reason, and the manifest's
        ``split`` section.
    """
    side = config.chip_size * config.chip_gsd_factor * native_resolution(imagery)
    area = planning_area(imagery, side, lambda: extent, "VQA chips", MAX_GRID_CHIPS)
    cells = []
    for cell in plan_partitions(area, side):
        minx, miny, maxx, maxy = cell.bounds
        if maxx - minx < side * 0.999 or maxy - miny < side * 0.999:
            continue  # the clipped last row/column: not a full chip
        cells.append(cell)
    decision = decide_splits(grid_boxes([c.bounds for c in cells], imagery.crs), config.split,
                             config.seed, exclude_training=config.exclude_training)
    chips = [(cell.index, cell.bounds, split) for cell, split, drop, leak
             in zip(cells, decision.splits, decision.dropped, decision.overlapping_training,
                    strict=True) if not drop and not leak]
    rejected = Counter({NEAR_OTHER_SPLIT: sum(decision.dropped),
                        OVERLAPS_TRAINING: sum(decision.overlapping_training)})
    return chips, +rejected, decision.report


@dataclass
class VqaBuildResult:
    """What a VQA build produced.

    Attributes:
        root: Output folder.
        questions: Kept questions per split.
        images: Image records per split.
        rejected: Chips rejected per reason.
        manifest: The manifest's content.
    """

    root: Path
    questions: dict[str, list[VqaQuestion]]
    images: dict[str, list[dict[str, Any]]]
    rejected: Counter[str]
    manifest: dict[str, Any]

    def summary(self) -> str:
        """Counts per split and per type, rejections."""
        lines = []
        for split in SPLITS:
            types = Counter(q.type for q in self.questions[split])
            lines.append(f"{split}: {len(self.images[split])} images, "
                         f"{len(self.questions[split])} questions ("
                         + ", ".join(f"{t} {n}" for t, n in sorted(types.items())) + ")")
        lines.append("rejected chips: " + (", ".join(
            f"{k} {v}" for k, v in sorted(self.rejected.items())) or "none"))
        return "\n".join(lines)


def build_vqa(config: VqaBuildConfig, command: list[str] | None = None) -> VqaBuildResult:
    """Build (or resume) an RSVQA-layout question set from OSM features over imagery.

    Args:
        config: What to build and how.
        command: The command line recorded in the manifest (default: ``sys.argv``).

    Raises:
        InputError: A reader failed, or no OSM feature overlaps the imagery.
        ConfigError: An invalid setting, or ``out`` holds a build with other settings.
    """
    root = Path(config.out)
    imagery = open_imagery(config.imagery, licence=config.licence, **config.imagery_options)
    focus = load_focus_features(config.osm, imagery, config.read_options)
    check_resumable(root / PARTITIONS_DIR, config.to_dict())
    remove_stale_temporaries(root)  # half-written files of a killed run
    chips, rejected, split_report = plan_chips(config, imagery, _extent(focus.frame))
    tasks = _plan_tasks(config, imagery, chips, focus.frame)
    run_partitions(tasks, make_chips, workers=config.workers, description="vqa chips")
    raw: dict[str, list[tuple[int, dict[str, Any]]]] = {s: [] for s in SPLITS}
    images: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for path in tasks:
        for row in read_result(path):
            if "rejected" in row:
                rejected[row["rejected"]] += 1
                continue
            images[row["split"]].append({"id": row["image_id"], "original_name":
                                         f"{row['image_id']}.{config.image_format}",
                                         "footprint": row["bounds"], "crs": imagery.crs,
                                         "gsd_m": row["gsd_m"]})
            raw[row["split"]] += [(row["image_id"], q) for q in row["questions"]]
    questions = {split: _finish(raw[split], config) for split in SPLITS}
    next_id = 0
    for split in SPLITS:  # ids unique across splits, as in the official files
        questions[split] = [dataclasses.replace(q, id=next_id + i)
                            for i, q in enumerate(questions[split])]
        next_id += len(questions[split])
        write_rsvqa(root, config.name, split, images[split], questions[split])
    manifest = write_manifest(
        root, command=list(command if command is not None else sys.argv),
        config=config.to_dict(),
        inputs=describe_inputs({"osm": config.osm, "imagery": config.imagery}),
        counts={s: {"images": len(images[s]), "questions": len(questions[s])} for s in SPLITS},
        rejected=rejected, imagery_licence=imagery.licence,
        extra={"layout": "rsvqa", "imagery_crs": imagery.crs, "attribution": OSM_ATTRIBUTION,
               "split": split_report},
    )
    return VqaBuildResult(root, questions, images, rejected, manifest)


def _plan_tasks(config: VqaBuildConfig, imagery: Imagery, chips: list[tuple[int, Bounds, str]],
                frame: gpd.GeoDataFrame) -> dict[Path, ChipTask]:
    """One task per partition holding chips, with the features that reach its chips."""
    native = native_resolution(imagery)
    tile_size = config.partition_px * native
    area = planning_area(imagery, tile_size, lambda: _extent(frame))
    partitions = plan_partitions(area, tile_size)
    image_dir = Path(config.out) / f"Images_{config.name}"
    rows = list(zip(frame["tags"], shapely.to_wkb(frame.geometry.values), strict=True))
    tree = shapely.STRtree(frame.geometry.values)
    tasks: dict[int, ChipTask] = {}
    for image_id, bounds, split in chips:
        centre = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
        index = partition_of(centre, area, tile_size)
        if index not in tasks:
            path = result_path(Path(config.out) / PARTITIONS_DIR, partitions[index])
            tasks[index] = ChipTask(path, image_dir, imagery, config)
        tasks[index].chips.append((image_id, bounds, split))
    for task in tasks.values():
        xs = [b[0] for _, b, _ in task.chips] + [b[2] for _, b, _ in task.chips]
        ys = [b[1] for _, b, _ in task.chips] + [b[3] for _, b, _ in task.chips]
        near = tree.query(shapely.box(min(xs), min(ys), max(xs), max(ys)))
        task.features = [rows[i] for i in sorted(near.tolist())]
    return {task.result: task for _, task in sorted(tasks.items())}


def _extent(frame: gpd.GeoDataFrame) -> Bounds | None:
    """Bounds of the build's features (imagery CRS), ``None`` without any."""
    if not len(frame):
        return None
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    return minx, miny, maxx, maxy


def _finish(raw: list[tuple[int, dict[str, Any]]], config: VqaBuildConfig) -> list[VqaQuestion]:
    """Balance a split's answers and turn its rows into questions (ids set by the caller)."""
    raw = sorted(raw, key=lambda row: row[0])
    types = [q["type"] for _, q in raw]
    answers = [q["answer"] for _, q in raw]
    keep = (balance_answers(types, answers, config.questions, config.seed)
            if config.questions.balance else range(len(raw)))
    return [VqaQuestion(0, raw[i][0], raw[i][1]["type"], raw[i][1]["question"],
                        raw[i][1]["answer"]) for i in keep]
