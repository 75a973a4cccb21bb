"""``rsvl build vqa``: an RSVQA-style question set from OSM features over imagery.

Exposes ``HELP``, ``add_arguments(parser)`` and ``run(args)`` for the ``vqa`` entry of
``rsvl.cli.build.JOBS``; heavy modules are imported inside :func:`run`.
"""

from __future__ import annotations

import argparse
import sys

from rsvl.cli.options import add_imagery_arguments
from rsvl.errors import ConfigError

HELP = "RSVQA-style question sets (official JSON layout) from OSM features over imagery"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs (``--osm`` + ``--imagery``, or ``--region``), chips, questions, splits."""
    parser.add_argument("--osm", help="OSM source: .osm, .osm.bz2, .osm.pbf, GeoJSON, GeoParquet")
    add_imagery_arguments(parser, required=False)
    parser.add_argument("--region", help="a synthetic region folder (`rsvl region`): its OSM "
                        "file and orthophoto, instead of --osm/--imagery")
    parser.add_argument("--out", required=True, help="output folder (a rerun resumes)")
    parser.add_argument("--name", default="OSM", help="file prefix: NAME_split_*_*.json and "
                        "Images_NAME/ (default: OSM)")
    parser.add_argument("--licence", default="unknown", help="imagery licence to record")
    parser.add_argument("--chip-size", type=int, default=256, help="chip side, px (default 256)")
    parser.add_argument("--chip-gsd-factor", type=float, default=1.0,
                        help="chip pixel size as a multiple of the native one (default 1)")
    parser.add_argument("--format", choices=("png", "jpg"), default="png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-cell-m", type=float, default=500.0,
                        help="side of the split grid cells (Web Mercator metres)")
    parser.add_argument("--split-fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1),
                        metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--categories", nargs="+", help="object categories to ask about "
                        "(default: all in rsvl/vqa/question_templates.json)")
    parser.add_argument("--no-attributes", action="store_true",
                        help="no small/medium/large or shape variants")
    parser.add_argument("--no-relations", action="store_true", help="no spatial relations")
    parser.add_argument("--bin-counts", action="store_true",
                        help="answer counts with the RSVQA-LR bins (0, between 1 and 10, ...)")
    parser.add_argument("--per-type", type=int, default=6,
                        help="questions per chip and type (default 6)")
    parser.add_argument("--no-balance", action="store_true", help="keep unbalanced answers")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--partition-px", type=int, default=4096,
                        help="side of a work partition in native pixels")


def run(args: argparse.Namespace) -> int:
    """Build (or resume) the question set and print its counts."""
    from rsvl.builders.vqa import VqaBuildConfig, build_vqa
    from rsvl.vqa.questions import QuestionOptions

    osm, imagery, licence = args.osm, args.imagery, args.licence
    if args.region:
        from rsvl.synth import load_region
        from rsvl.synth.region import LICENCE

        region = load_region(args.region)
        osm, imagery, licence = str(region.osm_path), str(region.orthophoto_path), LICENCE
    if not osm or not imagery:
        raise ConfigError("give --osm and --imagery, or --region (a synthetic region folder)")
    questions = QuestionOptions(
        categories=tuple(args.categories) if args.categories else None,
        attributes=not args.no_attributes, relations=not args.no_relations,
        bin_counts=args.bin_counts, per_type=args.per_type, balance=not args.no_balance)
    config = VqaBuildConfig(
        osm=osm, imagery=imagery, out=args.out, name=args.name, licence=licence,
        chip_size=args.chip_size, chip_gsd_factor=args.chip_gsd_factor, image_format=args.format,
        seed=args.seed, split_cell_m=args.split_cell_m,
        split_fractions=tuple(args.split_fractions), questions=questions,
        partition_px=args.partition_px, workers=args.workers,
        imagery_options=dict(args.imagery_option))
    result = build_vqa(config, command=["rsvl", *sys.argv[1:]])
    print(result.summary())
    return 0


__all__ = ["HELP", "add_arguments", "run"]
