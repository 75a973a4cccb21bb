"""``rsvl build JOB``: build datasets from OpenStreetMap features and imagery.

Jobs are entries of :data:`JOBS`; a job is its one-line help, an ``add_arguments(parser)`` and
a ``run(args) -> int``. Another package adds a job by adding an entry here whose functions
import their dependencies lazily (so ``rsvl build --help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from rsvl.cli import build_dedup, build_import, build_land_cover, build_vqa
from rsvl.cli.options import add_imagery_arguments, key_value

HELP = "build datasets (captions, classification, retrieval, VQA) from OSM and imagery"


@dataclass(frozen=True)
class Job:
    """One ``rsvl build`` sub-job."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _scheduler_spec(text: str) -> str:
    from rsvl.builders.scheduler import check_scheduler
    from rsvl.errors import ConfigError

    try:
        return check_scheduler(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_chip_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every job that cuts chips."""
    from rsvl.builders.chips import ChipRule

    rule = ChipRule()
    parser.add_argument("--osm", required=True, help="OSM source: .osm, .osm.bz2, .osm.pbf, "
                        "GeoJSON or GeoParquet")
    add_imagery_arguments(parser)
    parser.add_argument("--out", required=True, help="output dataset folder (a rerun resumes)")
    parser.add_argument("--source", default="osm", help="dataset name: records' source and "
                        "key prefix (default: osm)")
    parser.add_argument("--licence", default="unknown", help="imagery licence to record")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--scheduler", type=_scheduler_spec, metavar="SPEC",
                        help="run partitions on Dask instead: local:N (a LocalCluster of N "
                        "workers), tcp://host:port (a running scheduler) or file:PATH")
    parser.add_argument("--chip-size", type=int, default=rule.chip_size, help="chip side, px")
    parser.add_argument("--margin", type=float, default=rule.margin,
                        help="margin around the object, fraction of its extent per side")
    parser.add_argument("--min-object-px", type=float, default=rule.min_object_px,
                        help="skip objects smaller than this at native resolution")
    parser.add_argument("--max-gsd-factor", type=float, default=rule.max_gsd_factor,
                        help="skip objects needing a coarser chip than this x native gsd")
    parser.add_argument("--point-extent", type=float, default=rule.point_extent,
                        help="extent given to point objects, imagery CRS units")
    parser.add_argument("--min-valid-fraction", type=float, default=rule.min_valid_fraction,
                        help="reject chips with less valid (not nodata) area")
    parser.add_argument("--min-pixel-std", type=float, default=rule.min_pixel_std,
                        help="reject chips whose pixel standard deviation is lower (blank)")
    parser.add_argument("--format", choices=("jpg", "png"), default=rule.image_format)
    parser.add_argument("--captions-per-chip", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-cell-m", type=float, default=500.0,
                        help="side of the split grid cells (Web Mercator metres)")
    parser.add_argument("--split-fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1),
                        metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--max-iou", type=float, default=0.7,
                        help="drop chips overlapping a kept chip by more than this IoU")
    parser.add_argument("--partition-px", type=int, default=4096,
                        help="side of a spatial partition in native pixels")
    parser.add_argument("--shard-size", type=int, default=1000, help="samples per shard")
    parser.add_argument("--bands", type=int, nargs="+", help="1-based source bands for RGB")
    parser.add_argument("--default-tag", type=key_value, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="tag for exports without tag columns (Kampala: building=yes)")
    parser.add_argument("--clip-filter", metavar="MODEL",
                        help="keep the top --keep-top pairs by this model's image-text score")
    parser.add_argument("--keep-top", type=float, default=0.5)


def _build(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Run (or resume) the caption build the job's arguments describe and print its report."""
    from rsvl.builders.captions import CaptionBuildConfig, build_captions
    from rsvl.builders.chips import ChipRule

    rule = ChipRule(
        chip_size=args.chip_size, margin=args.margin, min_object_px=args.min_object_px,
        max_gsd_factor=args.max_gsd_factor, point_extent=args.point_extent,
        min_valid_fraction=args.min_valid_fraction, min_pixel_std=args.min_pixel_std,
        image_format=args.format,
    )
    config = CaptionBuildConfig(
        osm=args.osm, imagery=args.imagery, out=args.out, source=args.source,
        licence=args.licence, rule=rule, captions_per_chip=args.captions_per_chip,
        seed=args.seed, split_cell_m=args.split_cell_m,
        split_fractions=tuple(args.split_fractions), max_iou=args.max_iou,
        partition_px=args.partition_px, workers=args.workers,
        scheduler=args.scheduler, shard_size=args.shard_size,
        bands=tuple(args.bands) if args.bands else None,
        read_options={"default_tags": dict(args.default_tag)} if args.default_tag else {},
        clip_filter=args.clip_filter, keep_top=args.keep_top,
        imagery_options=dict(args.imagery_option),
    )
    result = build_captions(config, command=["rsvl", *sys.argv[1:]])
    print(result.focus.vocabulary.report())
    print(result.summary())
    return result


def _run_captions(args: argparse.Namespace) -> int:
    _build(args)
    return 0


def _add_classification(parser: argparse.ArgumentParser) -> None:
    from rsvl.builders.benchmark_sets import list_classification_tasks

    _add_chip_arguments(parser)
    parser.add_argument("--tasks", nargs="+", default=list_classification_tasks(),
                        choices=list_classification_tasks())
    parser.add_argument("--min-per-class", type=int, default=10,
                        help="drop classes with fewer images (reported)")
    parser.add_argument("--splits", nargs="+", default=["test"], choices=("train", "val", "test"),
                        help="splits the images come from (default: test)")


def _run_classification(args: argparse.Namespace) -> int:
    from rsvl.builders.benchmark_sets import write_classification_sets

    result = _build(args)
    for made in write_classification_sets(result.root, result.records, args.tasks,
                                          args.min_per_class, args.splits):
        kept = ", ".join(f"{c} {n}" for c, n in made.classes.items()) or "no class"
        dropped = ", ".join(f"{c} {n}" for c, n in made.dropped.items()) or "none"
        print(f"{made.folder}: {kept}; dropped (< {args.min_per_class}): {dropped}")
    return 0


def _add_retrieval(parser: argparse.ArgumentParser) -> None:
    _add_chip_arguments(parser)
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))


def _run_retrieval(args: argparse.Namespace) -> int:
    from rsvl.builders.benchmark_sets import write_retrieval_set

    result = _build(args)
    path = write_retrieval_set(result.root, result.records, args.split)
    count = sum(r.split == args.split for r in result.records)
    print(f"{path}: {count} images ({args.split} split), Karpathy layout")
    return 0


JOBS: dict[str, Job] = {
    "captions": Job("chips + captions from OSM features over imagery (SkyScript recipe)",
                    _add_chip_arguments, _run_captions),
    "classification": Job("OSM-attribute classification sets as class folders",
                          _add_classification, _run_classification),
    "retrieval": Job("caption retrieval set (Karpathy JSON) from the test split",
                     _add_retrieval, _run_retrieval),
    "vqa": Job(build_vqa.HELP, build_vqa.add_arguments, build_vqa.run),
    "land-cover": Job(build_land_cover.HELP, build_land_cover.add_arguments,
                      build_land_cover.run),
    "import": Job(build_import.HELP, build_import.add_arguments, build_import.run),
    "dedup": Job(build_dedup.HELP, build_dedup.add_arguments, build_dedup.run),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One nested subparser per job."""
    jobs = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    for name, job in JOBS.items():
        job.add_arguments(jobs.add_parser(name, help=job.help, description=job.help))


def run(args: argparse.Namespace) -> int:
    """Run the chosen job."""
    return JOBS[args.job].run(args)


__all__ = ["HELP", "JOBS", "Job", "add_arguments", "run"]
