"""Chips per second of the caption builder against a bare read-and-encode loop.

The baseline reads exactly the windows of the chips the builder kept, with the same imagery
reader, and encodes them as JPEG: the least any builder must do. The builder additionally
reads the OSM features, frames, rejects, captions, writes chip files, deduplicates and writes
records, shards, Parquet, footprints and the manifest. Target: at least 80% of the baseline's
speed with one process, and a speed-up with two workers.

    .venv/bin/python bench/build_chips.py [--size-m 1500] [--chip-size 128]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rsvl.build.captions import CaptionBuildConfig, build_captions
from rsvl.build.chips import ChipRule
from rsvl.imagery import open_imagery
from rsvl.synth import generate_region

RESULTS = Path(__file__).resolve().parent / "results" / "build_chips.json"


def _build(region, out: Path, chip_size: int, workers: int  # type: ignore[no-untyped-def]
           ) -> tuple[int, float, float]:
    shutil.rmtree(out, ignore_errors=True)
    config = CaptionBuildConfig(
        osm=str(region.osm_path), imagery=str(region.orthophoto_path), out=str(out),
        source="bench", rule=ChipRule(chip_size=chip_size), split_cell_m=1e6,
        partition_px=400, workers=workers)
    started = time.perf_counter()
    result = build_captions(config, command=["bench/build_chips.py"])
    return len(result.records), time.perf_counter() - started, result.seconds["chips"]


def _bare_loop(region, out: Path, chip_size: int) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    windows = [json.loads(line)["footprint"] for line in (out / "records.jsonl").open()]
    started = time.perf_counter()
    with open_imagery(region.orthophoto_path) as imagery:
        for bounds in windows:
            imagery.read(tuple(bounds), chip_size).encode("jpg")
    return len(windows), time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-m", type=float, default=1500)
    parser.add_argument("--chip-size", type=int, default=128)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        region = generate_region(Path(tmp) / "region", size_m=args.size_m, tiles=False)
        _build(region, Path(tmp) / "warmup", args.chip_size, 1)  # imports, caches
        chips, one, one_stage = _build(region, Path(tmp) / "w1", args.chip_size, 1)
        _, two, two_stage = _build(region, Path(tmp) / "w2", args.chip_size, 2)
        bare_chips, bare = _bare_loop(region, Path(tmp) / "w1", args.chip_size)
    figures = {
        "chips": chips,
        "region_size_m": args.size_m,
        "chip_size": args.chip_size,
        "bare_loop_chips_per_s": bare_chips / bare,
        "builder_1_worker_chips_per_s": chips / one,
        "builder_2_workers_chips_per_s": chips / two,
        "ratio_builder_1_worker_vs_bare": (chips / one) / (bare_chips / bare),
        "speedup_2_workers": one / two,
        "chip_stage_1_worker_chips_per_s": chips / one_stage,
        "ratio_chip_stage_vs_bare": (chips / one_stage) / (bare_chips / bare),
        "chip_stage_speedup_2_workers": one_stage / two_stage,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{chips} chips of {args.chip_size} px from a {args.size_m:.0f} m region")
    print(f"bare read+encode loop: {figures['bare_loop_chips_per_s']:.1f} chips/s")
    print(f"builder, 1 worker:     {figures['builder_1_worker_chips_per_s']:.1f} chips/s "
          f"({figures['ratio_builder_1_worker_vs_bare']:.0%} of the bare loop; target >= 80%)")
    print(f"builder, 2 workers:    {figures['builder_2_workers_chips_per_s']:.1f} chips/s "
          f"(speed-up x{figures['speedup_2_workers']:.2f})")
    print(f"chip stage alone (frame, read, check, caption, write), 1 worker: "
          f"{figures['chip_stage_1_worker_chips_per_s']:.1f} chips/s "
          f"({figures['ratio_chip_stage_vs_bare']:.0%} of the bare loop), 2 workers: "
          f"x{figures['chip_stage_speedup_2_workers']:.2f}")
    print(f"results: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
