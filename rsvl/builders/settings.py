"""Settings shared by the build jobs: the caption build's config, the split rule every build
uses (:class:`SplitRule`, defined with the split logic in :mod:`rsvl.builders.splits`), where
partitions live, and the check that refuses to resume a build made with other settings.
Orchestrators import from here; nothing here imports an orchestrator.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsvl.builders.chips import ChipRule
from rsvl.builders.splits import SplitRule
from rsvl.config import to_dict as config_to_dict
from rsvl.data.atomic import write_json
from rsvl.data.records import RECORDS_FILE
from rsvl.errors import ConfigError
from rsvl.imagery.base import Imagery
from rsvl.imagery.geo import metres_per_unit

if TYPE_CHECKING:  # an annotation only: importing samples pulls geopandas into --help
    from rsvl.builders.samples import SampleSettings

__all__ = [
    "PARTITIONS_DIR",
    "RECORDS_FILE",
    "CaptionBuildConfig",
    "SplitRule",
    "check_resumable",
    "chip_reach",
    "native_resolution",
]

PARTITIONS_DIR = ".partitions"
_EMPTY: tuple[Any, ...] = (None, {}, [])



@dataclass(frozen=True)
class CaptionBuildConfig:
    """Configuration of a caption dataset build.

    Attributes:
        osm: OSM source (``.osm``, ``.osm.bz2``, ``.osm.pbf``, GeoJSON, GeoParquet).
        imagery: Imagery source: GeoTIFF/COG/VRT (local or remote: ``/vsicurl/``, ``/vsis3/``,
            ``https://``), tile folder, MBTiles or tile server URL template
            (``https://host/{z}/{x}/{y}.png``).
        out: Output dataset root.
        source: Name of the source: records' ``source`` and key prefix.
        licence: Imagery licence (recorded in every record with the OSM attribution).
        rule: Chip framing and rejection thresholds.
        captions_per_chip: Captions per chip.
        seed: Seed of captions and split cells.
        split: How chips are assigned to train/val/test (cells, fractions, guard band).
        max_iou: Footprint IoU above which a chip is a near-duplicate of a kept one.
        partition_px: Partition side in native imagery pixels.
        workers: Worker processes (output does not depend on it).
        scheduler: A Dask scheduler (``local:N``, ``tcp://host:port``, ``file:PATH``) to run the
            partitions on instead of ``workers`` local processes; the OSM extract is then
            streamed once into per-partition GeoParquet files that workers read
            (``OUT/.partitions/features``). Outputs do not depend on it.
        shard_size: Samples per WebDataset shard.
        bands: 1-based source bands for RGB (``None``: the reader's default).
        read_options: Extra keyword arguments for ``rsvl.osm.read_features``.
        clip_filter: Model spec for the CLIP-score filter (``None``: no filter).
        keep_top: Fraction of pairs the CLIP-score filter keeps.
        imagery_options: Reader options for :func:`rsvl.imagery.open_imagery` (a tile
            server's ``max_zoom``, ``bounds``, ``cache``, ``missing``, ``retries``...).
        strict: Stop at the first unreadable tile or window (one line naming it) instead of
            skipping its chip and counting it in the manifest's rejections.
        regions: Give every chip its region-text pairs (each object's mask, box and phrase)
            and a long description; off, a build has neither and runs about twice as fast
            (bench/build_chips.py --no-regions: 578 vs 247 chips/s).
    """

    osm: str
    imagery: str
    out: str
    source: str = "osm"
    licence: str = "unknown"
    rule: ChipRule = field(default_factory=ChipRule)
    captions_per_chip: int = 3
    seed: int = 0
    split: SplitRule = field(default_factory=SplitRule)
    max_iou: float = 0.7
    partition_px: int = 4096
    workers: int = 1
    scheduler: str | None = None
    shard_size: int = 1000
    bands: tuple[int, ...] | None = None
    read_options: dict[str, Any] = field(default_factory=dict)
    clip_filter: str | None = None
    keep_top: float = 0.5
    imagery_options: dict[str, Any] = field(default_factory=dict)
    strict: bool = False
    regions: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-serialisable values."""
        return config_to_dict(self)


def native_resolution(imagery: Imagery) -> float:
    """The imagery's native pixel size in its CRS's units (framing works in those units)."""
    bounds = imagery.bounds
    mx, my = metres_per_unit(imagery.crs, (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    return imagery.gsd_m / ((mx + my) / 2)


def check_resumable(folder: Path, settings: Mapping[str, Any]) -> None:
    """Refuse to mix partitions made with other settings into this build (any builder's).

    ``settings`` is the build config as a dict; how the work is run (output folder, workers,
    scheduler, shard size, strict) may change between runs, everything else must not.
    """
    identity = {k: v for k, v in settings.items()
                if k not in ("out", "workers", "scheduler", "shard_size", "strict")}
    marker = folder / "config.json"
    if marker.is_file():
        previous = json.loads(marker.read_text())
        # A setting added since the earlier run, left at its empty default, changes nothing.
        changed = sorted(k for k in identity.keys() | previous.keys()
                         if identity.get(k) != previous.get(k)
                         and not (k not in previous and identity[k] in _EMPTY))
        if changed:
            raise ConfigError(
                f"{folder.parent} holds a build made with different settings ({', '.join(changed)}"
                f"); use another --out or delete {folder} to rebuild"
            )
    else:
        write_json(marker, identity)


def chip_reach(config: CaptionBuildConfig, settings: SampleSettings) -> float:
    """How far beyond its partition a feature can appear in the partition's chips (CRS units)."""
    # A chip is centred on its object and at most max_gsd_factor * chip_size native pixels
    # wide, so the features it can contain lie within that reach of its partition.
    return config.rule.max_gsd_factor * settings.native_res * config.rule.chip_size / 2
