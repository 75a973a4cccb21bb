"""``rsvl build vqa``: an RSVQA-style question set from OSM features over imagery.

Exposes ``HELP``, ``add_arguments(parser)`` and ``run(args)`` for the ``vqa`` entry of
``rsvl.cli.build.JOBS``; heavy modules are imported inside the functions. The options are
:class:`~rsvl.builders.vqa.VqaBuildConfig`'s fields (:mod:`rsvl.cli.dataclass_flags`), its
question options without a prefix (``--per-type``, ``--no-balance``), plus ``--region``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rsvl.cli.dataclass_flags import ConfigFlags
from rsvl.errors import ConfigError

HELP = "RSVQA-style question sets (official JSON layout) from OSM features over imagery"


def vqa_flags() -> ConfigFlags:
    """The VQA build's flags (``image_format`` also as ``--format``)."""
    from rsvl.builders.vqa import VqaBuildConfig

    return ConfigFlags(VqaBuildConfig, flatten=("questions",),
                       aliases={"image_format": "--format"},
                       choices={"image_format": ("png", "jpg")})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs (``--osm`` + ``--imagery``, or ``--region``), chips, questions, splits."""
    vqa_flags().add_to(parser)
    parser.add_argument("--region", help="a synthetic region folder (`rsvl region`): its OSM "
                        "file, orthophoto and licence, instead of --osm/--imagery/--licence")


def config_of(args: argparse.Namespace) -> Any:
    """The VQA build config the parsed arguments describe."""
    flags = vqa_flags()
    payload = flags.payload(args)
    if args.region:
        from rsvl.synth import load_region
        from rsvl.synth.region import LICENCE

        region = load_region(args.region)
        payload.update(osm=str(region.osm_path), imagery=str(region.orthophoto_path),
                       licence=LICENCE)
    if not payload.get("osm") or not payload.get("imagery"):
        raise ConfigError("give --osm and --imagery, or --region (a synthetic region folder)")
    return flags.build(payload, args)


def build_and_report(config: Any) -> Any:
    """Build (or resume) the question set of ``config`` and print its counts."""
    from rsvl.builders.vqa import build_vqa

    result = build_vqa(config, command=["rsvl", *sys.argv[1:]])
    print(result.summary())
    return result


def run(args: argparse.Namespace) -> int:
    """Build (or resume) the question set and print its counts."""
    build_and_report(config_of(args))
    return 0


__all__ = ["HELP", "add_arguments", "build_and_report", "config_of", "run", "vqa_flags"]
