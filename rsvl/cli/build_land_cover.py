"""``rsvl build land-cover``: EuroSAT-style grid chips of a synthetic region, labelled from its
class raster, as class folders (the demo's held-out land-cover set).

Exposes ``HELP``, ``add_arguments(parser)`` and ``run(args)`` for the ``land-cover`` entry of
``rsvl.cli.build.JOBS``; heavy modules are imported inside :func:`run`. The options besides
``--region`` and ``--out`` are :class:`~rsvl.builders.land_cover.LandCoverRule`'s fields, also
read from ``--config FILE`` and ``--set key=value`` (:mod:`rsvl.cli.dataclass_flags`).
"""

from __future__ import annotations

import argparse

from rsvl.cli.dataclass_flags import ConfigFlags

HELP = "land-cover class folders: a synthetic region's grid chips labelled from classes.tif"


def land_cover_flags() -> ConfigFlags:
    """The land-cover build's flags: :class:`~rsvl.builders.land_cover.LandCoverRule`'s fields."""
    from rsvl.builders.land_cover import LandCoverRule
    from rsvl.data.records import SPLITS

    return ConfigFlags(LandCoverRule, choices={"splits": SPLITS})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The region, the grid, the purity rule and the split cells (as the caption build's)."""
    parser.add_argument("--region", required=True, help="a synthetic region folder (rsvl region)")
    parser.add_argument("--out", required=True, help="output folder: CLASS/rRRR_cCCC.jpg and "
                        "summary.json (replaced whole when complete)")
    land_cover_flags().add_to(parser)


def run(args: argparse.Namespace) -> int:
    """Write the class folders and print the chips per class."""
    from rsvl.builders.land_cover import write_land_cover_set
    from rsvl.synth import load_region

    rule = land_cover_flags().from_args(args)
    result = write_land_cover_set(load_region(args.region), args.out, rule)
    print(f"{sum(result.classes.values())} chips in {result.folder} "
          f"({', '.join(sorted(rule.splits))}): "
          + ", ".join(f"{name} {count}" for name, count in sorted(result.classes.items())))
    if result.dropped:
        print("  dropped (fewer than --min-per-class): "
              + ", ".join(f"{name} {count}" for name, count in sorted(result.dropped.items())))
    print("  not used: " + ", ".join(f"{reason} {count}"
                                     for reason, count in sorted(result.rejected.items())))
    return 0


__all__ = ["HELP", "add_arguments", "run"]
