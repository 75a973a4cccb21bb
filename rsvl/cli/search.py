"""``rsvl search``: build an image index, then query it by text or image.

    rsvl search build --model runs/tiny/export --from ortho.tif --out ortho.index
    rsvl search query ortho.index "a football field" -k 5 --grid results.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "search an image index by text or image"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands ``build`` and ``query``."""
    jobs = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    build = jobs.add_parser("build", help="embed a folder, records, shards or imagery into an "
                            "index", description="Embed images once and save them as an index.")
    build.add_argument("--model", required=True, help="model spec (export folder, ARCH:TAG...)")
    build.add_argument("--from", dest="source", required=True, help="image folder, records.jsonl "
                       "or dataset folder, shard folder, GeoTIFF, MBTiles or {z}/{x}/{y} tiles")
    build.add_argument("--out", required=True, type=Path, help="index folder to write")
    build.add_argument("--kind", default="auto", choices=["auto", "folder", "records", "raster"])
    build.add_argument("--chip-size-m", type=float, help="imagery: chip side on the ground")
    build.add_argument("--chip-px", type=int, help="imagery: chip side in pixels")
    build.add_argument("--stride", type=float, default=1.0,
                       help="imagery: step between chips as a fraction of the chip")
    build.add_argument("--bands", help="imagery: 1-based bands for red,green,blue, e.g. 4,3,2")
    build.add_argument("--backend", default="auto", choices=["auto", "exact", "ivf", "hnsw"])
    build.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    build.add_argument("--batch-size", type=int, default=64)
    build.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    build.set_defaults(_job=run_build)

    query = jobs.add_parser("query", help="search an index by text or image",
                            description="Print the best matches of a text or image query.")
    query.add_argument("index", type=Path, help="index folder written by `rsvl search build`")
    query.add_argument("text", nargs="?", help="text query")
    query.add_argument("--image", type=Path, help="search by this image instead of text")
    query.add_argument("-k", type=int, default=10, help="number of results")
    query.add_argument("--grid", type=Path, help="also save the results as an image grid (PNG)")
    query.add_argument("--map", type=Path, help="also save a map of footprints (HTML)")
    query.add_argument("--json", action="store_true", help="print the results as JSON lines")
    query.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    query.set_defaults(_job=run_query)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen job."""
    return int(args._job(args))


def run_build(args: argparse.Namespace) -> int:
    """Build and save an index; print a one-line summary."""
    from rsvl.api import ImageIndex, load_model

    options: dict[str, object] = {"backend": args.backend, "batch_size": args.batch_size}
    imagery_options = {"chip_size_m": args.chip_size_m, "chip_px": args.chip_px,
                       "bands": parse_bands(args.bands)}
    options.update({k: v for k, v in imagery_options.items() if v is not None})
    if args.stride != 1.0:
        options["stride"] = args.stride
    model = load_model(args.model, device=args.device)
    index = ImageIndex.from_source(model, args.source, kind=args.kind, **options)
    index.save(args.out, dtype=args.dtype)
    print(f"indexed {len(index)} images from {args.source} into {args.out} "
          f"(backend {index.backend_name}, model {model.spec})")
    return 0


def run_query(args: argparse.Namespace) -> int:
    """Search and print one line per result, best first."""
    from rsvl.api import ImageIndex, load_model, show_grid, show_map
    from rsvl.api.index import read_header
    from rsvl.errors import ConfigError

    if (args.text is None) == (args.image is None):
        raise ConfigError("give either a text query or --image PATH (not both)")
    model = None
    if args.device:
        model = load_model(read_header(args.index)["model"]["spec"], device=args.device)
    index = ImageIndex.load(args.index, model=model)
    results = index.search(args.text if args.image is None else args.image, k=args.k)
    shown = [c for c in ("rank", "score", "key", "path", "imagery", "caption") if c in results]
    for row in results[shown].to_dict("records"):
        if args.json:
            print(json.dumps(row, default=str))
        else:
            print("\t".join(f"{row[c]:.4f}" if c == "score" else str(row[c]) for c in shown))
    if args.grid:
        show_grid(results).savefig(args.grid, dpi=100)
    if args.map:
        show_map(results).save(str(args.map))
    return 0


def parse_bands(bands: str | None) -> list[int] | None:
    """``"4,3,2"`` -> ``[4, 3, 2]``."""
    if bands is None:
        return None
    from rsvl.errors import ConfigError

    try:
        return [int(b) for b in bands.split(",")]
    except ValueError:
        raise ConfigError(f"--bands must be comma-separated band numbers, got {bands!r}") from None
