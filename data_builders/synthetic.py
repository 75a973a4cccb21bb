"""The built-in synthetic region: generated orthophoto + OSM XML -> captions, class folders,
retrieval set. Needs nothing but rsvl (no ../shared/data)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from _recipe import parse, run_jobs

from rsvl.synth import generate_region


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parse(__doc__ or "", argv, "out/synthetic")
    region = generate_region(args.out / "region", seed=0, size_m=1000, tiles=False)
    common = [
        "--osm", str(region.osm_path), "--imagery", str(region.orthophoto_path),
        "--out", str(args.out / "dataset"), "--source", "synthetic", "--licence", "CC0-1.0",
        "--workers", args.workers, "--chip-size", "128", "--split-cell-m", "400",
        "--partition-px", "500", *extra,
    ]
    status = run_jobs(["captions", "retrieval"], common)
    return status or run_jobs(["classification"], [
        *common, "--min-per-class", "3", "--splits", "train", "val", "test"])


if __name__ == "__main__":
    sys.exit(main())
