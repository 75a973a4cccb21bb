"""The built-in synthetic region -> an RSVQA-layout question set (OSM_split_*_*.json, Images_OSM/).

    .venv/bin/python data_builders/rsvqa_synthetic.py --out out/rsvqa_synthetic

Needs nothing but rsvl. Extra options go to the VQA build (``--bin-counts``, ``--no-relations``,
``--categories house road ...``; see ``rsvl.cli.build_vqa``). Runs the same code as
``rsvl build vqa --region DIR --out DIR``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rsvl.cli import main as rsvl_main
from rsvl.synth import generate_region


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default="out/rsvqa_synthetic")
    parser.add_argument("--size-m", type=float, default=1000.0, help="region side (metres)")
    args, extra = parser.parse_known_args(argv)
    region = generate_region(f"{args.out}/region", seed=0, size_m=args.size_m, tiles=False)
    return rsvl_main(["build", "vqa", "--region", str(region.out_dir), "--out", f"{args.out}/vqa",
                      "--chip-size", "64", "--split-cell-m", "250",
                      "--split-fractions", "0.6", "0.1", "0.3", *extra])


if __name__ == "__main__":
    sys.exit(main())
