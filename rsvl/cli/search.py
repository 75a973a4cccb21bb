"""``rsvl search``: build an image index, then query it by text or image.

    rsvl search build --model runs/tiny/export --from ortho.tif --out ortho.index
    rsvl search query ortho.index "a football field" -k 5 --grid results.png
    rsvl search build --model runs/tiny/export --from ortho.tif --out ortho.parquet  # GeoParquet
    rsvl search query ortho.parquet "a football field" --near 15.43,47.77,500 --positive 12
    rsvl search serve ortho.parquet --port 8765    # a local page: map, results, refinement
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rsvl.api import ImageIndex

HELP = "search an image index by text or image"
# rsvl.api.backends.BACKENDS, written out: importing it here would load numpy for --help.
BACKEND_CHOICES = ["auto", "exact", "ivf", "hnsw", "exact-streaming", "ivf-ondisk"]


def add_index_arguments(parser: argparse.ArgumentParser) -> None:
    """The index to open: a folder or an embedding GeoParquet, with external column names."""
    parser.add_argument("index", type=Path, help="index folder or embedding GeoParquet file "
                        "(`rsvl search build`, or an external one: see --model, --*-column)")
    parser.add_argument("--model", help="the model that made an external GeoParquet's "
                        "embeddings")
    parser.add_argument("--embedding-column", default="embedding",
                        help="external GeoParquet: the embedding column (default: embedding)")
    parser.add_argument("--id-column", default="id", help="external GeoParquet: the id column")
    parser.add_argument("--geometry-column", default="geometry",
                        help="external GeoParquet: the footprint column (WKB)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, help="search backend (default: "
                        "the index's own; for GeoParquet past RAM: exact-streaming or "
                        "ivf-ondisk, which keep the vectors in the file)")
    parser.add_argument("--nprobe", type=int, help="ivf/ivf-ondisk: inverted lists probed per "
                        "query (default 1.6 %% of them; more finds more of the exact top-k)")
    parser.add_argument("--device", help="cuda, mps or cpu (default: the best available)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands ``build``, ``query`` and ``serve``."""
    jobs = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    build = jobs.add_parser("build", help="embed a folder, records, shards or imagery into an "
                            "index", description="Embed images once and save them as an index.")
    build.add_argument("--model", required=True, help="model spec (export folder, ARCH:TAG...)")
    build.add_argument("--from", dest="source", required=True, help="image folder, records.jsonl "
                       "or dataset folder, shard folder, GeoTIFF, MBTiles or {z}/{x}/{y} tiles")
    build.add_argument("--out", required=True, type=Path, help="index folder to write, or a "
                       ".parquet file for GeoParquet embeddings")
    build.add_argument("--format", default="auto", choices=["auto", "index", "geoparquet"],
                       help="auto: GeoParquet when --out ends with .parquet, else an index folder")
    build.add_argument("--kind", default="auto", choices=["auto", "folder", "records", "raster"])
    build.add_argument("--chip-size-m", type=float, help="imagery: chip side on the ground")
    build.add_argument("--chip-px", type=int, help="imagery: chip side in pixels")
    build.add_argument("--stride", type=float, default=1.0,
                       help="imagery: step between chips as a fraction of the chip")
    build.add_argument("--bands", help="imagery: 1-based bands for red,green,blue, e.g. 4,3,2")
    build.add_argument("--backend", default="auto", choices=BACKEND_CHOICES[:4])
    build.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    build.add_argument("--batch-size", type=int, default=64)
    build.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    build.set_defaults(_job=run_build)

    query = jobs.add_parser("query", help="search an index by text or image",
                            description="Print the best matches of a text or image query.")
    add_index_arguments(query)
    query.add_argument("text", nargs="?", help="text query")
    query.add_argument("--image", type=Path, help="search by this image instead of text")
    query.add_argument("--near", metavar="LON,LAT,RADIUS_M",
                       help="only footprints within RADIUS_M metres of a place")
    query.add_argument("--within", type=Path, help="only footprints intersecting this GeoJSON")
    query.add_argument("--positive", type=int, action="append", default=[], metavar="ID",
                       help="a relevant result id: move the query towards it (repeatable)")
    query.add_argument("--negative", type=int, action="append", default=[], metavar="ID",
                       help="an irrelevant result id: move the query away (repeatable)")
    query.add_argument("-k", type=int, default=10, help="number of results")
    query.add_argument("--grid", type=Path, help="also save the results as an image grid (PNG)")
    query.add_argument("--map", type=Path, help="also save a map of footprints (HTML)")
    query.add_argument("--json", action="store_true", help="print the results as JSON lines")
    query.set_defaults(_job=run_query)

    serve = jobs.add_parser("serve", help="search an index in the browser, on a map",
                            description="Serve a local page: a text box, results with scores, "
                            "footprints on a map, search-similar and positive/negative marks.")
    add_index_arguments(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                       "127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    serve.add_argument("--tiles", metavar="URL_TEMPLATE|FOLDER", help="basemap: your own "
                       "{z}/{x}/{y} tile folder or a tile URL template (default: a plain "
                       "background, no map tiles are fetched)")
    serve.set_defaults(_job=run_serve)


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
    geoparquet = args.format == "geoparquet" or (args.format == "auto"
                                                 and args.out.suffix == ".parquet")
    if geoparquet:
        index.to_geoparquet(args.out, dtype=args.dtype)
    else:
        index.save(args.out, dtype=args.dtype)
    print(f"indexed {len(index)} images from {args.source} into {args.out} "
          f"({'GeoParquet' if geoparquet else f'backend {index.backend_name}'}, "
          f"model {model.spec})")
    return 0


def run_query(args: argparse.Namespace) -> int:
    """Search and print one line per result, best first."""
    from rsvl.api import show_grid, show_map
    from rsvl.errors import ConfigError

    if args.text is not None and args.image is not None:
        raise ConfigError("give either a text query or --image PATH (not both)")
    if args.text is None and args.image is None and not (args.positive or args.near
                                                         or args.within):
        raise ConfigError("give either a text query or --image PATH (or --positive ID, or a "
                          "place: --near, --within)")
    index = open_index(args)
    results = index.search(args.text if args.image is None else args.image, k=args.k,
                           near=parse_place(args.near), within=args.within,
                           positives=args.positive, negatives=args.negative)
    shown = [c for c in ("rank", "score", "key", "path", "imagery", "caption", "id")
             if c in results]
    for row in results[shown].to_dict("records"):
        if args.json:
            print(json.dumps(row, default=str))
        else:
            print("\t".join(f"{row[c]:.4f}" if c == "score" else str(row[c]) for c in shown))
    if args.grid:
        from rsvl.data.atomic import atomic_open

        # Its folder is made, as for every file rsvl writes (the demo's figures/ may not exist).
        with atomic_open(args.grid, "wb") as handle:
            show_grid(results).savefig(handle, format="png", dpi=100)
    if args.map:
        show_map(results).save(str(args.map))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve the search page until Ctrl+C."""
    from rsvl.api.server import serve

    serve(open_index(args), host=args.host, port=args.port, tiles=args.tiles)
    return 0


def open_index(args: argparse.Namespace) -> ImageIndex:
    """The index named on the command line, with ``--model``/``--device`` when given."""
    from rsvl.api import ImageIndex, load_model
    from rsvl.api.index import read_header

    model = None
    if args.model or args.device:
        spec = args.model or (None if args.index.suffix == ".parquet"
                              else read_header(args.index)["model"]["spec"])
        model = load_model(spec, device=args.device) if spec else None
    if args.index.suffix == ".parquet":
        from rsvl.api.geoparquet import EmbeddingColumns

        columns = EmbeddingColumns(id=args.id_column, embedding=args.embedding_column,
                                   geometry=args.geometry_column)
        index = ImageIndex.from_geoparquet(args.index, model=model, columns=columns,
                                           model_spec=args.model, backend=args.backend or "auto")
    else:
        index = ImageIndex.load(args.index, model=model, backend=args.backend)
    return index if args.nprobe is None else index.set_nprobe(args.nprobe)


def parse_place(near: str | None) -> tuple[float, float, float] | None:
    """``"15.43,47.77,500"`` -> ``(15.43, 47.77, 500.0)`` (longitude, latitude, metres)."""
    if near is None:
        return None
    from rsvl.errors import ConfigError

    try:
        lon, lat, radius = (float(v) for v in near.split(","))
    except ValueError:
        raise ConfigError(f"--near takes LON,LAT,RADIUS_M (degrees, degrees, metres), "
                          f"got {near!r}") from None
    return lon, lat, radius


def parse_bands(bands: str | None) -> list[int] | None:
    """``"4,3,2"`` -> ``[4, 3, 2]``."""
    if bands is None:
        return None
    from rsvl.errors import ConfigError

    try:
        return [int(b) for b in bands.split(",")]
    except ValueError:
        raise ConfigError(f"--bands must be comma-separated band numbers, got {bands!r}") from None
