"""``rsvl build land-cover``: EuroSAT-style grid chips of a synthetic region, labelled from its
class raster, as class folders (the demo's held-out land-cover set).

Exposes ``HELP``, ``add_arguments(parser)`` and ``run(args)`` for the ``land-cover`` entry of
``rsvl.cli.build.JOBS``; heavy modules are imported inside :func:`run`.
"""

from __future__ import annotations

import argparse

HELP = "land-cover class folders: a synthetic region's grid chips labelled from classes.tif"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The region, the grid, the purity rule and the split cells (as the caption build's)."""
    from rsvl.builders.land_cover import LandCoverRule

    rule = LandCoverRule()
    parser.add_argument("--region", required=True, help="a synthetic region folder (rsvl region)")
    parser.add_argument("--out", required=True, help="output folder: CLASS/rRRR_cCCC.jpg and "
                        "summary.json (replaced whole when complete)")
    parser.add_argument("--chip-m", type=float, default=rule.chip_m,
                        help="chip side on the ground, metres (default %(default)s)")
    parser.add_argument("--chip-px", type=int, default=rule.chip_px,
                        help="chip side in pixels (default %(default)s)")
    parser.add_argument("--min-share", type=float, default=rule.min_share,
                        help="share of the chip its majority land class must cover "
                        "(default %(default)s)")
    parser.add_argument("--min-per-class", type=int, default=rule.min_per_class,
                        help="drop classes with fewer chips (default %(default)s)")
    parser.add_argument("--splits", nargs="+", choices=("train", "val", "test"),
                        default=list(rule.splits), help="splits to keep (default: test)")
    parser.add_argument("--seed", type=int, default=rule.seed,
                        help="seed of the split cells: the caption build's --seed")
    parser.add_argument("--split-cell-m", type=float, default=rule.split_cell_m,
                        help="split cell side (Web Mercator metres): the caption build's")
    parser.add_argument("--split-fractions", type=float, nargs=3,
                        default=rule.split_fractions, metavar=("TRAIN", "VAL", "TEST"),
                        help="split fractions: the caption build's")


def run(args: argparse.Namespace) -> int:
    """Write the class folders and print the chips per class."""
    from rsvl.builders.land_cover import LandCoverRule, write_land_cover_set
    from rsvl.synth import load_region

    rule = LandCoverRule(chip_m=args.chip_m, chip_px=args.chip_px, min_share=args.min_share,
                         min_per_class=args.min_per_class, splits=tuple(args.splits),
                         split_cell_m=args.split_cell_m,
                         split_fractions=tuple(args.split_fractions), seed=args.seed)
    result = write_land_cover_set(load_region(args.region), args.out, rule)
    print(f"{sum(result.classes.values())} chips in {result.folder} "
          f"({', '.join(sorted(args.splits))}): "
          + ", ".join(f"{name} {count}" for name, count in sorted(result.classes.items())))
    if result.dropped:
        print("  dropped (fewer than --min-per-class): "
              + ", ".join(f"{name} {count}" for name, count in sorted(result.dropped.items())))
    print("  not used: " + ", ".join(f"{reason} {count}"
                                     for reason, count in sorted(result.rejected.items())))
    return 0


__all__ = ["HELP", "add_arguments", "run"]
