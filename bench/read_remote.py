"""Chips per second from a tile server over loopback HTTP (cold) versus the same tile folder.

A synthetic region's XYZ pyramid is served by ``python -m http.server`` in a child process;
each round opens a fresh ``TileServerImagery`` (no tile in memory, no cache folder: every tile
is fetched) and a fresh ``TileFolderImagery``, reads the same random chips with both and encodes
them as JPEG. Prints the ratio (server / folder): the cost of HTTP per chip on a network with
no latency, the floor under any real server. Writes ``bench/results/read_remote.json``.

    .venv/bin/python bench/read_remote.py [--chips 200] [--size 224] [--region-m 1000]
"""

from __future__ import annotations

import argparse
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from read_windows import chips_per_second, random_windows

from rsvl.data.atomic import write_json
from rsvl.imagery import open_imagery
from rsvl.imagery.geo import transform_bounds
from rsvl.synth import generate_region

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "read_remote.json"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m http.server`` of ``folder`` on loopback, once it answers."""
    port = _free_port()
    child = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                              "127.0.0.1", "--directory", str(folder)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return child, url
        except OSError:
            time.sleep(0.05)
    child.kill()
    raise RuntimeError(f"http.server did not start on {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=200, help="chips per round")
    parser.add_argument("--size", type=int, default=224, help="chip side in pixels")
    parser.add_argument("--region-m", type=float, default=1000.0, help="region side, metres")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        region = generate_region(Path(tmp), seed=0, size_m=args.region_m, tiles=True)
        local = open_imagery(region.tiles_dir)
        tiles = sum(1 for _ in region.tiles_dir.rglob("*.png"))
        west, south, east, north = transform_bounds(local.bounds, local.crs, "EPSG:4326")
        options = {"min_zoom": min(region.tile_zooms), "max_zoom": max(region.tile_zooms),
                   "bounds": (west + 1e-9, south + 1e-9, east - 1e-9, north - 1e-9)}
        windows = random_windows(local.bounds, args.chips, np.random.default_rng(42),
                                 min_frac=0.1, max_frac=0.3)
        child, url = _serve(region.out_dir)
        try:
            def folder(source: Path, chips: list, size: int) -> int:
                with open_imagery(source) as imagery:
                    return sum(len(imagery.read(b, size).encode("jpeg", quality=90))
                               for b in chips)

            def server(source: Path, chips: list, size: int) -> int:
                with open_imagery(url + "/tiles/{z}/{x}/{y}.png", **options) as imagery:
                    return sum(len(imagery.read(b, size).encode("jpeg", quality=90))
                               for b in chips)

            speed = chips_per_second({"folder": folder, "server": server}, region.tiles_dir,
                                     windows, args.size, args.repeats)
        finally:
            child.terminate()
            child.wait()
    ratio = speed["server"] / speed["folder"]
    print(f"{args.region_m:.0f} m region ({tiles} tiles, each fetched once per round), "
          f"{args.chips} chips of {args.size} px: tile folder "
          f"{speed['folder']:.0f} chips/s, loopback tile server (cold) {speed['server']:.0f} "
          f"chips/s, ratio {ratio:.2f}")
    write_json(RESULTS, {"benchmark": "read_remote", "python": platform.python_version(),
                         "region_m": args.region_m, "tiles": tiles, "chips": args.chips,
                         "size": args.size,
                         "folder_chips_per_s": round(speed["folder"], 1),
                         "server_chips_per_s": round(speed["server"], 1),
                         "ratio": round(ratio, 3)})
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
