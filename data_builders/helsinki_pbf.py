"""Helsinki: OSM ``.osm.pbf`` extract -> features GeoParquet + captions (no imagery here).

The extract streams through pyosmium; every groundable feature gets captions without
surrounding context (context needs a chip, and a chip needs imagery).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from _recipe import parse

from rsvl.builders.feature_captions import build_feature_captions


def main(argv: Sequence[str] | None = None) -> int:
    args, _ = parse(__doc__ or "", argv, "out/helsinki")
    result = build_feature_captions(str(args.data / "osm" / "helsinki.osm.pbf"), args.out,
                                    source="helsinki", command=["data_builders/helsinki_pbf.py"])
    print(result.vocabulary.report())
    print(f"{result.captioned} of {result.features_read} features captioned in {result.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
