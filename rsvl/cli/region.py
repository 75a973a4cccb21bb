"""``rsvl region``: generate the built-in synthetic region (or reuse it when already there)."""

from __future__ import annotations

import argparse

from rsvl.synth.defaults import DEFAULT_GSD_M, DEFAULT_SEED, DEFAULT_SIZE_M

HELP = "generate the built-in synthetic region (OSM XML, orthophoto GeoTIFF, tile pyramid)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rsvl region``."""
    parser.add_argument(
        "--out", required=True, help="output folder (reused when it already matches)"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)"
    )
    parser.add_argument(
        "--size-m",
        type=float,
        default=DEFAULT_SIZE_M,
        help="side of the square region in metres (default %(default)s)",
    )
    parser.add_argument(
        "--gsd-m",
        type=float,
        default=DEFAULT_GSD_M,
        help="orthophoto metres per pixel (default %(default)s)",
    )
    parser.add_argument("--no-tiles", action="store_true", help="skip the XYZ tile pyramid")


def run(args: argparse.Namespace) -> int:
    """Generate the region and print a summary: size, files, classes with counts, time."""
    from rsvl.synth import generate_region

    region = generate_region(
        args.out, seed=args.seed, size_m=args.size_m, gsd_m=args.gsd_m, tiles=not args.no_tiles
    )
    action = "reused" if region.reused else "generated"
    print(
        f"{action} region in {region.out_dir} ({region.seconds:.1f} s): seed {region.seed}, "
        f"{region.size_m:g} m x {region.size_m:g} m at {region.gsd_m:g} m/px "
        f"({region.width} x {region.height} px), {region.crs}"
    )
    print(f"  lon/lat bounds: {', '.join(f'{v:.5f}' for v in region.bounds_lonlat)}")
    files = [region.osm_path, region.orthophoto_path, region.classes_path, region.json_path]
    for path in files:
        print(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB")
    if region.tiles_dir is not None:
        count = sum(1 for _ in region.tiles_dir.rglob("*.png"))
        print(f"  tiles/: {count} tiles at zooms {', '.join(map(str, region.tile_zooms))}")
    total = sum(c["pixels"] for c in region.classes if c["name"] != "nodata") or 1
    print(f"  {'class':<22}{'features':>9}{'pixels %':>10}")
    for land_class in region.classes:
        if land_class["features"] or land_class["pixels"]:
            share = 100.0 * land_class["pixels"] / total if land_class["name"] != "nodata" else 0.0
            print(f"  {land_class['name']:<22}{land_class['features']:>9}{share:>10.2f}")
    return 0


__all__ = ["HELP", "add_arguments", "run"]
