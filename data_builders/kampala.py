"""Kampala (Uganda): real OpenAerialMap tiles (z19-21) + OSM building footprints -> captions.

The buildings export has no tag columns (only a mostly-null ``osm_id``): every feature is a
building, so the recipe passes ``--default-tag building=yes``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from _recipe import parse, run_jobs


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parse(__doc__ or "", argv, "out/kampala")
    kampala = args.data / "kampala"
    return run_jobs(["captions"], [
        "--osm", str(kampala / "osm_buildings.geojson"), "--imagery", str(kampala / "tiles"),
        "--out", str(args.out), "--source", "kampala", "--workers", args.workers,
        "--licence", "CC-BY-4.0 (OpenAerialMap)", "--default-tag", "building=yes",
        # 7 cm tiles: houses need zooming out, so allow a coarser chip than native.
        "--chip-size", "128", "--max-gsd-factor", "16", "--split-cell-m", "100", *extra,
    ])


if __name__ == "__main__":
    sys.exit(main())
