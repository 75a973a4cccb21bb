"""OSM features per second: ``rsvl.osm.read_features`` versus pyosmium's bare read.

The baseline is the cheapest useful pyosmium loop over the same file with the same passes
(node locations and area assembly): count the objects that carry tags, build no geometry.
Usage: ``.venv/bin/python bench/osm_read.py [--source PATH] [--repeats N]``; prints both rates
and their ratio and writes ``bench/results/osm_read.json``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import osmium

from rsvl.data.atomic import write_json
from rsvl.osm import read_features

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "osm" / "helsinki.osm.pbf"


def bare_pyosmium(path: Path) -> int:
    """Objects with tags, as pyosmium yields them with locations and areas, no geometry."""
    processor = osmium.FileProcessor(str(path)).with_locations().with_areas()
    return sum(1 for obj in processor.with_filter(osmium.filter.EmptyTagFilter()))


def pyosmium_with_tags(path: Path) -> int:
    """The bare loop plus copying each object's tags into a dict: the floor for any reader
    that returns tags through pyosmium's Python API."""
    processor = osmium.FileProcessor(str(path)).with_locations().with_areas()
    return sum(1 for obj in processor.with_filter(osmium.filter.EmptyTagFilter()) if dict(obj.tags))


def rsvl_read(path: Path) -> int:
    """Features (with geometry and tags) that ``read_features`` returns."""
    return len(read_features(path))


def best_seconds(run: Callable[[Path], int], path: Path, repeats: int) -> tuple[float, int]:
    """The fastest of ``repeats`` runs and the count it returned."""
    times, count = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = run(path)
        times.append(time.perf_counter() - start)
    return min(times), count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"{args.source}: not found (pass --source PATH to an .osm.pbf)", file=sys.stderr)
        return 2
    bare_s, bare_objects = best_seconds(bare_pyosmium, args.source, args.repeats)
    tags_s, _ = best_seconds(pyosmium_with_tags, args.source, args.repeats)
    rsvl_s, features = best_seconds(rsvl_read, args.source, args.repeats)
    # Rates per object pyosmium yields (the same work unit for both loops).
    result = {
        "source": str(args.source),
        "objects_with_tags": bare_objects,
        "features": features,
        "bare_pyosmium_s": round(bare_s, 4),
        "pyosmium_with_tags_s": round(tags_s, 4),
        "read_features_s": round(rsvl_s, 4),
        "bare_pyosmium_objects_per_s": round(bare_objects / bare_s, 1),
        "read_features_objects_per_s": round(bare_objects / rsvl_s, 1),
        "ratio": round(bare_s / rsvl_s, 3),
        "ratio_to_pyosmium_with_tags": round(tags_s / rsvl_s, 3),
        "repeats": args.repeats,
        "python": platform.python_version(),
    }
    bare_rate = result["bare_pyosmium_objects_per_s"]
    print(f"bare pyosmium : {bare_rate:>10,.0f} objects/s ({bare_s:.3f} s)")
    print(f"+ dict(tags)  : {bare_objects / tags_s:>10,.0f} objects/s ({tags_s:.3f} s)")
    print(
        f"read_features : {result['read_features_objects_per_s']:>10,.0f} objects/s "
        f"({rsvl_s:.3f} s, {features} features)"
    )
    print(f"ratio         : {result['ratio']:.2f} of bare pyosmium speed")
    print(f"ratio         : {result['ratio_to_pyosmium_with_tags']:.2f} of pyosmium + dict(tags)")
    write_json(ROOT / "bench" / "results" / "osm_read.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
