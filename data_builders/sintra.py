"""Sintra (Portugal): real satellite tiles (z17) + real OSM polygons -> captions + retrieval."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from _recipe import parse, run_jobs


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parse(__doc__ or "", argv, "out/sintra")
    sintra = args.data / "sintra"
    return run_jobs(["captions", "retrieval"], [
        "--osm", str(sintra / "osm_features.geojson"), "--imagery", str(sintra / "tiles"),
        "--out", str(args.out), "--source", "sintra", "--workers", args.workers,
        # Mapbox terms: a test fixture, never redistribute the chips.
        "--licence", "Mapbox Satellite terms (test fixture only, not redistributable)",
        # The area (under 1 km) is too small to block into three splits: it is a held-out
        # test area as a whole, the retrieval set included.
        "--max-gsd-factor", "4", "--split-fractions", "0", "0", "1", *extra,
    ])


if __name__ == "__main__":
    sys.exit(main())
