"""Training throughput: rsvl's trainer against open_clip's own trainer, same model, data, batch.

Both train ``rsvl-tiny`` (64 px, ~4M parameters, from scratch) on the same WebDataset shards
(generated here, or ``--shards DIR`` e.g. the synthetic region's) with the same batch size,
steps, data workers and threads, one process each, fp32 on CPU (``--precision bf16`` where a
GPU is present). rsvl's augmentations are set to open_clip's default training transform
(random resized crop 0.9-1.0, nothing else) and both clip gradients at norm 1, so both do the
same work per step.

Throughput is the median over steps (the first two excluded) of each trainer's own per-step
samples/s (rsvl: ``log.jsonl``; open_clip: its ``Train Epoch`` lines with
``--log-every-n-steps 1``); the trainers alternate (A B B A ...) for ``--repeats`` rounds and
each keeps its best round, so a load change on a shared machine does not favour one of them.
Peak memory is the largest resident set of any process of the run (``ru_maxrss`` of the
children, data workers included).

    .venv/bin/python bench/train_throughput.py                  # 60 steps of 64, ~3 min
    .venv/bin/python bench/train_throughput.py --steps 20       # quick look

Target: rsvl at least as fast (ratio >= 1). Writes bench/results/train_throughput.json.
The machine may be shared: figures vary with load, so both run back to back in one call.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from rsvl.data.records import Record
from rsvl.data.shards import ShardWriter, brace_pattern, read_sizes

RESULTS = Path(__file__).resolve().parent / "results" / "train_throughput.json"
COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 200),
           "yellow": (220, 200, 40), "grey": (128, 128, 128), "white": (240, 240, 240)}
# Run a child and report the peak RSS of it and its descendants (kilobytes on Linux).
_MEASURED = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
             "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
             "sys.exit(code)")
_OPEN_CLIP = ("import sys; import rsvl.models.registry as r; r.register_architectures(); "
              "from open_clip_train.main import main; main(sys.argv[1:])")


def make_shards(shard_dir: Path, samples: int, per_shard: int = 256) -> None:
    """Noisy colour squares (128 px JPEG) captioned with their colour."""
    rng = np.random.default_rng(0)
    names = list(COLOURS)
    with ShardWriter(shard_dir, max_samples=per_shard) as writer:
        for index in range(samples):
            colour = names[index % len(names)]
            pixels = np.clip(np.array(COLOURS[colour]) + rng.integers(-30, 30, (128, 128, 3)),
                             0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
            key = f"bench{index:06d}"
            writer.write(Record(key=key, image=f"{key}.jpg", split="train", source="bench",
                                licence="CC0", captions=[f"a satellite image of {colour}"]),
                         buffer.getvalue())


def measured_run(command: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    """(output, wall seconds, peak RSS in MB) of ``command``."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _MEASURED, *command], env=env,
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(command)}\n{output[-3000:]}")
    peak_kb = int(re.findall(r"PEAK_RSS_KB (\d+)", output)[-1])
    return output, wall, peak_kb // 1024


def steady(speeds: list[float]) -> float:
    """Median per-step samples/s, the first two (warm-up, worker start) steps excluded."""
    return statistics.median(speeds[2:] if len(speeds) > 4 else speeds)


def run_rsvl(shards: Path, out: Path, args: argparse.Namespace, env: dict[str, str]) -> dict:
    overrides = [
        f"data.train={shards}", f"run.out_dir={out}", f"run.max_steps={args.steps}",
        f"data.batch_size={args.batch}", f"data.workers={args.workers}",
        "model.spec=rsvl-tiny", "run.log_every=1", "run.progress=false", "run.trackers=[]",
        "run.export=false", f"run.mixed_precision={args.precision}",
        "augment.rotate90=false", "augment.hflip=false", "augment.vflip=false",
        "augment.color_jitter=0", "augment.hue=0", "augment.crop_scale=[0.9,1.0]",
        "optim.warmup_steps=10", "optim.lr=5e-4", "data.shuffle_buffer=1000",
    ]
    command = [sys.executable, "-m", "rsvl.training.launch"]
    for override in overrides:
        command += ["--set", override]
    _, wall, peak = measured_run(command, env)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    speeds = [e["samples_per_s"] for e in log if "samples_per_s" in e]
    return {"samples_per_s": steady(speeds), "wall_s": round(wall, 1), "peak_rss_mb": peak,
            "steps": len(speeds)}


def run_open_clip(shards: Path, out: Path, args: argparse.Namespace, env: dict[str, str]) -> dict:
    count = len(read_sizes(shards))
    precision = {"no": "fp32", "bf16": "amp_bf16"}[args.precision]
    command = [
        sys.executable, "-c", _OPEN_CLIP, "--model", "rsvl-tiny",
        "--train-data", brace_pattern(shards, count), "--dataset-type", "webdataset",
        "--train-num-samples", str(args.steps * args.batch), "--batch-size", str(args.batch),
        "--epochs", "1", "--workers", str(args.workers), "--lr", "5e-4", "--warmup", "10",
        "--logs", str(out), "--name", "bench", "--log-every-n-steps", "1",
        "--save-frequency", "0", "--report-to", "", "--precision", precision, "--seed", "0",
        "--grad-clip-norm", "1.0",
    ]
    output, wall, peak = measured_run(command, env)
    speeds = [float(s) for s in re.findall(r"Batch \(t\): [\d.]+, ([\d.]+)/s", output)]
    if not speeds:
        raise SystemExit(f"no throughput lines in open_clip's output:\n{output[-3000:]}")
    return {"samples_per_s": steady(speeds), "wall_s": round(wall, 1), "peak_rss_mb": peak,
            "steps": len(speeds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="OMP threads per trainer")
    parser.add_argument("--precision", choices=("no", "bf16"), default="no")
    parser.add_argument("--shards", type=Path, help="existing shard folder (default: generate)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds per trainer")
    args = parser.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1")
    with tempfile.TemporaryDirectory(prefix="rsvl-bench-") as tmp:
        shards = args.shards or Path(tmp) / "shards"
        if args.shards is None:
            make_shards(shards, samples=args.steps * args.batch + args.batch)
        rounds: dict[str, list[dict[str, Any]]] = {"rsvl": [], "open_clip": []}
        for index in range(args.repeats):
            order = ("rsvl", "open_clip") if index % 2 == 0 else ("open_clip", "rsvl")
            for name in order:
                runner = run_rsvl if name == "rsvl" else run_open_clip
                rounds[name].append(runner(shards, Path(tmp) / f"{name}-{index}", args, env))
        rsvl, open_clip = (max(rounds[n], key=lambda r: r["samples_per_s"]) for n in rounds)
    ratio = rsvl["samples_per_s"] / open_clip["samples_per_s"]
    result: dict[str, Any] = {
        "bench": "train_throughput", "model": "rsvl-tiny", "batch": args.batch,
        "steps": args.steps, "workers": args.workers, "threads": args.threads,
        "rounds": rounds,
        "precision": args.precision, "rsvl": rsvl, "open_clip": open_clip,
        "speed_ratio_rsvl_over_open_clip": round(ratio, 3),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "shards": str(args.shards or "generated"),
    }
    print(f"rsvl      {rsvl['samples_per_s']:8.1f} samples/s  peak {rsvl['peak_rss_mb']} MB")
    print(f"open_clip {open_clip['samples_per_s']:8.1f} samples/s  "
          f"peak {open_clip['peak_rss_mb']} MB")
    print(f"ratio rsvl/open_clip: {ratio:.2f} (target >= 1); {result['machine']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
