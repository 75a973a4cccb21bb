"""Chips per second of the caption builder against a bare read-and-encode loop.

The baseline reads exactly the windows of the chips the builder kept, with the same imagery
reader, and encodes them as JPEG: the least any builder must do. The builder additionally
reads the OSM features, frames, rejects, captions, writes chip files, deduplicates and writes
records, shards, Parquet, footprints and the manifest. Target: at least 80% of the baseline's
speed with one process, and a near-linear speed-up with two workers.

The machine may be shared: the baseline and the builds (1 and 2 workers) alternate, each
figure is the best of ``--repeats`` runs, and the load average is reported with them. CPU
seconds per chip (the builder's process, or its workers for the chip stage) are printed too:
they depend far less on other users' load than wall time.

The builder decides near-duplicates and splits from the chips' footprints before reading,
so it reads only the chips it keeps plus those its pixel checks reject (nodata, blank: known
only from their pixels); ``reads_per_kept_chip`` gives that ratio, and ``read_ceiling`` the
best ratio to the baseline a builder doing nothing but those reads could reach.

    .venv/bin/python bench/build_chips.py [--size-m 3000] [--chip-size 128] [--repeats 3]

The default region (1,032 chips, a ~5 s build) is large enough that pool start-up and the
serial stages do not decide the 2-worker figure alone, as they do at 1500 m (260 chips).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsvl.builders.captions import PARTITIONS_DIR, CaptionBuildConfig, build_captions
from rsvl.builders.chips import ChipRule
from rsvl.builders.partitions import read_result
from rsvl.builders.settings import SplitRule
from rsvl.imagery import open_imagery
from rsvl.synth import generate_region
from rsvl.synth.region import RegionInfo

RESULTS = Path(__file__).resolve().parent / "results" / "build_chips.json"
STAGES = ("features", "chips", "filters", "outputs")


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the build's workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _build(region: RegionInfo, out: Path, chip_size: int, workers: int, regions: bool = True
           ) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    config = CaptionBuildConfig(
        osm=str(region.osm_path), imagery=str(region.orthophoto_path), out=str(out),
        source="bench", rule=ChipRule(chip_size=chip_size), split=SplitRule(cell_m=1e6),
        partition_px=400, workers=workers, regions=regions)
    cpu, started = _cpu_seconds(), time.perf_counter()
    result = build_captions(config, command=["bench/build_chips.py"])
    wall = time.perf_counter() - started
    return {"chips": len(result.records), "wall": wall, "cpu": _cpu_seconds() - cpu,
            "rejected": dict(result.rejected),
            **{f"{stage}_stage": seconds for stage, seconds in result.seconds.items()},
            **{f"{stage}_cpu": seconds for stage, seconds in result.cpu_seconds.items()}}


def _windows_read(out: Path) -> int:
    """Windows the build read: every row of its read rounds is one read (a chip, or one
    rejected for its pixels)."""
    return sum(1 for path in sorted((out / PARTITIONS_DIR).glob("round*/p*.jsonl"))
               for _ in read_result(path))


def _bare_loop(region: RegionInfo, windows: list[list[float]], chip_size: int
               ) -> dict[str, float]:
    cpu, started = _cpu_seconds(), time.perf_counter()
    with open_imagery(region.orthophoto_path) as imagery:
        for bounds in windows:
            imagery.read(tuple(bounds), chip_size).encode("jpg")  # type: ignore[arg-type]
    return {"wall": time.perf_counter() - started, "cpu": _cpu_seconds() - cpu}


def _spin(_: int = 0) -> None:
    total = 0
    for value in range(3_000_000):
        total += value


def _machine_speedup() -> float:
    """How much faster two processes finish two fixed CPU loops than one process does.

    The control for the builder's 2-worker speed-up: about 2 on an idle 2-core machine, and
    down to 1 when other users leave the equivalent of one free core.
    """
    started = time.perf_counter()
    _spin()
    _spin()
    one = time.perf_counter() - started
    with multiprocessing.get_context("fork").Pool(2) as pool:
        started = time.perf_counter()
        pool.map(_spin, range(2), chunksize=1)
        two = time.perf_counter() - started
    return one / two


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda run: run["wall"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-m", type=float, default=3000)
    parser.add_argument("--chip-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-regions", dest="regions", action="store_false",
                        help="builds without region-text pairs and long descriptions")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "w1": [], "w2": []}
    machine: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        region = generate_region(Path(tmp) / "region", size_m=args.size_m, tiles=False)
        warmup = Path(tmp) / "warmup"
        _build(region, warmup, args.chip_size, 1, args.regions)  # imports, caches, windows
        windows = [json.loads(line)["footprint"] for line in (warmup / "records.jsonl").open()]
        reads = _windows_read(warmup)
        for _ in range(args.repeats):
            runs["bare"].append(_bare_loop(region, windows, args.chip_size))
            runs["w1"].append(_build(region, Path(tmp) / "w1", args.chip_size, 1, args.regions))
            runs["w2"].append(_build(region, Path(tmp) / "w2", args.chip_size, 2, args.regions))
            machine.append(_machine_speedup())
    load_after = os.getloadavg()
    bare, one, two = (_best(runs[name]) for name in ("bare", "w1", "w2"))
    chips = one["chips"]
    bare_rate = len(windows) / bare["wall"]
    # Amdahl: the stages other than the chips run in one process whatever the workers.
    serial_share = 1 - one["chips_cpu"] / sum(one[f"{stage}_cpu"] for stage in STAGES)
    figures = {
        "chips": chips,
        "region_size_m": args.size_m,
        "chip_size": args.chip_size,
        "regions": args.regions,
        "repeats": args.repeats,
        "load_average_1min_before_after": [load_before[0], load_after[0]],
        "cpu_count": os.cpu_count(),
        "windows_read": reads,
        "reads_per_kept_chip": reads / chips,
        "read_ceiling": chips / reads,
        "bare_loop_chips_per_s": bare_rate,
        "bare_loop_cpu_ms_per_chip": 1000 * bare["cpu"] / len(windows),
        "builder_1_worker_chips_per_s": chips / one["wall"],
        "builder_1_worker_cpu_ms_per_chip": 1000 * one["cpu"] / chips,
        "builder_2_workers_chips_per_s": chips / two["wall"],
        "ratio_builder_1_worker_vs_bare": chips / one["wall"] / bare_rate,
        "speedup_2_workers": one["wall"] / two["wall"],
        "machine_speedup_2_processes": max(machine),
        "chip_stage_1_worker_chips_per_s": chips / one["chips_stage"],
        "ratio_chip_stage_vs_bare": chips / one["chips_stage"] / bare_rate,
        "chip_stage_speedup_2_workers": one["chips_stage"] / two["chips_stage"],
        "serial_cpu_share": serial_share,
        "speedup_2_workers_bound": 1 / (serial_share + (1 - serial_share) / 2),
        "chip_stage_cpu_2_vs_1_worker": two["chips_cpu"] / one["chips_cpu"],
        "stages_1_worker_s": {stage: one[f"{stage}_stage"] for stage in STAGES},
        "stages_2_workers_s": {stage: two[f"{stage}_stage"] for stage in STAGES},
        "stages_1_worker_cpu_s": {stage: one[f"{stage}_cpu"] for stage in STAGES},
        "runs": runs,
    }
    results = RESULTS if args.regions else RESULTS.with_name("build_chips_no_regions.json")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{chips} chips of {args.chip_size} px from a {args.size_m:.0f} m region"
          f"{'' if args.regions else ' without region-text pairs'}; best of "
          f"{args.repeats} alternated runs; load average {load_before[0]:.1f} -> "
          f"{load_after[0]:.1f} on {os.cpu_count()} cores")
    print(f"bare read+encode loop: {bare_rate:.1f} chips/s "
          f"({figures['bare_loop_cpu_ms_per_chip']:.1f} ms CPU per chip)")
    print(f"builder, 1 worker:     {figures['builder_1_worker_chips_per_s']:.1f} chips/s "
          f"({figures['ratio_builder_1_worker_vs_bare']:.0%} of the bare loop; target >= 80%; "
          f"{figures['builder_1_worker_cpu_ms_per_chip']:.1f} ms CPU per chip)")
    print(f"builder, 2 workers:    {figures['builder_2_workers_chips_per_s']:.1f} chips/s "
          f"(speed-up x{figures['speedup_2_workers']:.2f}; two plain CPU loops in 2 processes "
          f"got x{figures['machine_speedup_2_processes']:.2f} on this machine now)")
    print(f"chip stage alone (frame, read, check, caption, write), 1 worker: "
          f"{figures['chip_stage_1_worker_chips_per_s']:.1f} chips/s "
          f"({figures['ratio_chip_stage_vs_bare']:.0%} of the bare loop), 2 workers: "
          f"x{figures['chip_stage_speedup_2_workers']:.2f}")
    print(f"windows read per kept chip: {figures['reads_per_kept_chip']:.2f} (reads alone cap "
          f"the builder at {figures['read_ceiling']:.0%} of the bare loop)")
    for label, stages in (("1 worker, wall", figures["stages_1_worker_s"]),
                          ("2 workers, wall", figures["stages_2_workers_s"]),
                          ("1 worker, CPU", figures["stages_1_worker_cpu_s"])):
        print(f"stages, {label}: " + ", ".join(f"{s} {v:.2f} s" for s, v in stages.items()))
    print(f"serial stages: {serial_share:.0%} of the CPU time, so 2 workers can give at most "
          f"x{figures['speedup_2_workers_bound']:.2f} on an idle machine; the chip stage costs "
          f"x{figures['chip_stage_cpu_2_vs_1_worker']:.2f} the CPU with 2 workers")
    print(f"results: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
