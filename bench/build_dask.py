"""Chips per second of the caption builder on a Dask LocalCluster (1 and 2 workers) vs the pool.

Builds the synthetic region four ways: the local process pool with 1 and 2 workers (the
baseline) and a Dask ``LocalCluster`` with 1 and 2 single-threaded worker processes (started
before the clock; the build connects to it by address, as to a remote cluster). Reports the
chip stage's rate (partitions only) and the whole build's, the Dask speed-up from 1 to 2
workers, Dask's rate relative to the pool, the chips per CPU-second of every process
involved (the per-core throughput, robust to a busy machine), and the bytes a chip costs on
disk (chips, shards, Parquet, records, footprints) for the storage estimate in
``data_builders/README.md``.

    .venv/bin/python bench/build_dask.py [--size-m 1000] [--chip-size 224] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsvl.builders.captions import PARTITIONS_DIR, CaptionBuildConfig, build_captions
from rsvl.builders.chips import ChipRule
from rsvl.builders.settings import SplitRule
from rsvl.synth import generate_region

RESULTS = Path(__file__).resolve().parent / "results" / "build_dask.json"
# What a finished dataset keeps (the partition results and the feature split are scratch).
OUTPUT_PARTS = ("chips", "shards", "parquet", "records.jsonl", "footprints.parquet")


def _bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cpu_seconds(cluster: Any | None) -> float:
    """CPU time of this process, its reaped children (pool workers) and the cluster's workers."""
    own = time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime \
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
    if cluster is None:
        return own
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        return own + sum(client.run(time.process_time).values())


def _build(region: Any, out: Path, chip_size: int, workers: int,
           scheduler: str | None, cluster: Any | None = None) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    config = CaptionBuildConfig(
        osm=str(region.osm_path), imagery=str(region.orthophoto_path), out=str(out),
        source="bench", rule=ChipRule(chip_size=chip_size), split=SplitRule(cell_m=1e6),
        partition_px=256, workers=workers, scheduler=scheduler)
    cpu = _cpu_seconds(cluster)
    started = time.perf_counter()
    result = build_captions(config, command=["bench/build_dask.py"])
    return {"chips": len(result.records), "wall": time.perf_counter() - started,
            "cpu": _cpu_seconds(cluster) - cpu,
            "chip_stage": result.seconds["chips"], "features": result.seconds["features"]}


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda run: run["chip_stage"])


def main(argv: Sequence[str] | None = None) -> int:
    from distributed import LocalCluster

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-m", type=float, default=1000)
    parser.add_argument("--chip-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {}
    storage: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        region = generate_region(Path(tmp) / "region", size_m=args.size_m, tiles=False)
        _build(region, Path(tmp) / "warmup", args.chip_size, 1, None)  # imports, caches
        for workers in (1, 2):
            for _ in range(args.repeats):
                runs.setdefault(f"pool_{workers}", []).append(
                    _build(region, Path(tmp) / "pool", args.chip_size, workers, None))
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None, silence_logs=logging.ERROR) as cluster:
                # The first build on a fresh cluster also pays the workers' imports.
                _build(region, Path(tmp) / "dask", args.chip_size, 1, cluster.scheduler_address)
                for _ in range(args.repeats):
                    runs.setdefault(f"dask_{workers}", []).append(_build(
                        region, Path(tmp) / "dask", args.chip_size, 1,
                        cluster.scheduler_address, cluster))
        out = Path(tmp) / "dask"
        storage = {part: _bytes(out / part) for part in OUTPUT_PARTS}
        storage["feature_split"] = _bytes(out / PARTITIONS_DIR / "features")
    load_after = os.getloadavg()
    best = {name: _best(found) for name, found in runs.items()}
    chips = best["dask_1"]["chips"]
    rate = {name: chips / run["chip_stage"] for name, run in best.items()}
    kept = sum(storage[part] for part in OUTPUT_PARTS)
    figures = {
        "chips": chips,
        "region_size_m": args.size_m,
        "chip_size": args.chip_size,
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "load_average_1min_before_after": [load_before[0], load_after[0]],
        "chip_stage_chips_per_s": rate,
        "build_chips_per_s": {name: chips / run["wall"] for name, run in best.items()},
        "dask_speedup_2_vs_1_workers": rate["dask_2"] / rate["dask_1"],
        "pool_speedup_2_vs_1_workers": rate["pool_2"] / rate["pool_1"],
        "dask_vs_pool_1_worker": rate["dask_1"] / rate["pool_1"],
        "dask_vs_pool_2_workers": rate["dask_2"] / rate["pool_2"],
        # Robust to a busy machine: chips per CPU-second of the whole build (all processes).
        "chips_per_cpu_second": {name: chips / run["cpu"] for name, run in best.items()},
        "features_stage_s": {name: run["features"] for name, run in best.items()},
        "bytes_per_chip": {part: size / chips for part, size in storage.items()},
        "bytes_per_chip_total": kept / chips,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{chips} chips of {args.chip_size} px from a {args.size_m:.0f} m region "
          f"(chip stage, best of {args.repeats}; load {load_before[0]:.1f} -> {load_after[0]:.1f})")
    for name in ("pool_1", "pool_2", "dask_1", "dask_2"):
        print(f"  {name}: {rate[name]:6.1f} chips/s (whole build "
              f"{figures['build_chips_per_s'][name]:.1f} chips/s)")
    print(f"Dask speed-up 1 -> 2 workers: {figures['dask_speedup_2_vs_1_workers']:.2f}x "
          f"(pool: {figures['pool_speedup_2_vs_1_workers']:.2f}x); Dask/pool: "
          f"{figures['dask_vs_pool_1_worker']:.2f} (1 worker), "
          f"{figures['dask_vs_pool_2_workers']:.2f} (2)")
    print("per-core throughput (chips per CPU-second, whole build): " + ", ".join(
        f"{name} {value:.1f}" for name, value in figures["chips_per_cpu_second"].items()))
    print(f"storage: {figures['bytes_per_chip_total'] / 1024:.1f} KiB per chip "
          f"(chips+shards+parquet+records+footprints)")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
