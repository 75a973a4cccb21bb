"""Training throughput: rsvl's trainer against open_clip's own trainer and the raw step limit.

Both trainers train ``rsvl-tiny`` (64 px, ~4M parameters, from scratch; ``--model`` for others)
on the same WebDataset shards (generated here, every sample with its own caption, or
``--shards DIR``) with the same batch size, steps, data workers and threads, one process each.
rsvl's augmentations are set to open_clip's default training transform (random resized crop
0.9-1.0, nothing else) and both clip gradients at norm 1, so both do the same work per step.

Also measured, in the same alternated rounds:

- **raw limit**: the same model's forward + loss + backward + clipping + AdamW step on batches
  decoded once before timing (no data pipeline at all): what any trainer could reach here;
- **token cache**: rsvl on shards whose samples share 6 captions (the old bench data), against
  the distinct-caption run; and the tokeniser's own cost per batch, cached and not;
- **bf16 vs fp32**: rsvl and the raw loop under bf16 autocast (``run.mixed_precision=bf16``;
  CPU autocast where no GPU is present).

Throughput is the median over steps (the first two excluded) of each run's own per-step
samples/s (rsvl: ``log.jsonl``; open_clip: its ``Train Epoch`` lines with
``--log-every-n-steps 1``; raw: timed steps); the runs alternate (A B C ... then reversed) for
``--repeats`` rounds and each keeps its best round, so a load change on a shared machine does
not favour one of them. Peak memory is the largest resident set of any process of the run
(``ru_maxrss`` of the children, data workers included).

    .venv/bin/python bench/train_throughput.py                  # 60 steps of 64, ~5 min
    .venv/bin/python bench/train_throughput.py --steps 20       # quick look

Targets: rsvl >= 1.0x open_clip and >= 0.9x the raw limit. Writes
bench/results/train_throughput.json. The machine may be shared: figures vary with load.
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
PLACES = ("fields", "roofs", "a road", "trees", "water", "a car park", "sand", "rails")
# Run a child and report the peak RSS of it and its descendants (kilobytes on Linux).
_MEASURED = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
             "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
             "sys.exit(code)")
_OPEN_CLIP = ("import sys; import rsvl.models.registry as r; r.register_architectures(); "
              "from open_clip_train.main import main; main(sys.argv[1:])")


def caption(index: int, colour: str, distinct: bool) -> str:
    """A caption of sample ``index``: its own words (distinct) or just its colour (6 in all)."""
    if not distinct:
        return f"a satellite image of {colour}"
    place = PLACES[(index // len(COLOURS)) % len(PLACES)]
    return f"a satellite image of {colour} {place}, chip {index} of tile {index * 7919 % 1009}"


def make_shards(shard_dir: Path, samples: int, distinct: bool = True, size: int = 128,
                per_shard: int = 256) -> None:
    """Noisy colour squares (``size`` px JPEG); each caption distinct, or one per colour."""
    rng = np.random.default_rng(0)
    names = list(COLOURS)
    with ShardWriter(shard_dir, max_samples=per_shard) as writer:
        for index in range(samples):
            colour = names[index % len(names)]
            pixels = np.clip(np.array(COLOURS[colour]) + rng.integers(-30, 30, (size, size, 3)),
                             0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
            key = f"bench{index:06d}"
            writer.write(Record(key=key, image=f"{key}.jpg", split="train", source="bench",
                                licence="CC0", captions=[caption(index, colour, distinct)]),
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


def _summary(speeds: list[float], wall: float, peak: int) -> dict[str, Any]:
    return {"samples_per_s": round(steady(speeds), 2), "wall_s": round(wall, 1),
            "peak_rss_mb": peak, "steps": len(speeds)}


def run_rsvl(shards: Path, out: Path, args: argparse.Namespace, env: dict[str, str],
             precision: str, steps: int = 0) -> dict[str, Any]:
    overrides = [
        f"data.train={shards}", f"run.out_dir={out}", f"run.max_steps={steps or args.steps}",
        f"data.batch_size={args.batch}", f"data.workers={args.workers}",
        f"model.spec={args.model}", "run.log_every=1", "run.progress=false", "run.trackers=[]",
        "run.export=false", f"run.mixed_precision={precision}",
        "augment.rotate90=false", "augment.hflip=false", "augment.vflip=false",
        "augment.color_jitter=0", "augment.hue=0", "augment.crop_scale=[0.9,1.0]",
        "optim.warmup_steps=10", "optim.lr=5e-4", "data.shuffle_buffer=1000",
    ]
    command = [sys.executable, "-m", "rsvl.training.launch"]
    for override in overrides:
        command += ["--set", override]
    _, wall, peak = measured_run(command, env)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return _summary([e["samples_per_s"] for e in log if "samples_per_s" in e], wall, peak)


def run_open_clip(shards: Path, out: Path, args: argparse.Namespace, env: dict[str, str],
                  precision: str) -> dict[str, Any]:
    count = len(read_sizes(shards))
    command = [
        sys.executable, "-c", _OPEN_CLIP, "--model", args.model,
        "--train-data", brace_pattern(shards, count), "--dataset-type", "webdataset",
        "--train-num-samples", str(args.steps * args.batch), "--batch-size", str(args.batch),
        "--epochs", "1", "--workers", str(args.workers), "--lr", "5e-4", "--warmup", "10",
        "--logs", str(out), "--name", "bench", "--log-every-n-steps", "1",
        "--save-frequency", "0", "--report-to", "", "--seed", "0", "--grad-clip-norm", "1.0",
        "--precision", {"no": "fp32", "bf16": "amp_bf16"}[precision],
    ]
    output, wall, peak = measured_run(command, env)
    speeds = [float(s) for s in re.findall(r"Batch \(t\): [\d.]+, ([\d.]+)/s", output)]
    if not speeds:
        raise SystemExit(f"no throughput lines in open_clip's output:\n{output[-3000:]}")
    return _summary(speeds, wall, peak)


def run_raw(args: argparse.Namespace, env: dict[str, str], precision: str,
            steps: int = 0) -> dict[str, Any]:
    command = [sys.executable, __file__, "--raw-child", "--model", args.model,
               "--steps", str(steps or args.steps), "--batch", str(args.batch),
               "--precision", precision]
    output, wall, peak = measured_run(command, env)
    speeds = json.loads(re.findall(r"RAW_SPEEDS (\[.*\])", output)[-1])
    return _summary(speeds, wall, peak)


def raw_child(args: argparse.Namespace) -> None:
    """The raw limit: forward + loss + backward + clip + AdamW on pre-decoded tensors."""
    import torch

    from rsvl.models import load_clip
    from rsvl.training.config import OptimConfig
    from rsvl.training.loss import make_loss
    from rsvl.training.optim import build_optimizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    loaded = load_clip(args.model, device=device)
    model = loaded.model.train()
    optimizer = build_optimizer(model, OptimConfig(lr=5e-4))
    loss_fn = make_loss(0, 1, False)
    size = loaded.preprocess_cfg["size"]
    size = size if isinstance(size, int) else size[0]
    generator = torch.Generator().manual_seed(0)
    batches = [(torch.randn(args.batch, 3, size, size, generator=generator).to(device),
                loaded.tokenizer([caption(b * args.batch + i, "red", True)
                                  for i in range(args.batch)]).to(device)) for b in range(4)]
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    speeds = []
    for step in range(args.steps):
        images, texts = batches[step % len(batches)]
        start = time.perf_counter()
        with torch.autocast(device, dtype=dtype, enabled=args.precision == "bf16"):
            image_features, text_features, scale = model(images, texts)[:3]
            loss = loss_fn(image_features, text_features, scale)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        float(loss)  # wait for the step (GPU) as the trainers' logging does
        speeds.append(args.batch / (time.perf_counter() - start))
    print("RAW_SPEEDS", json.dumps(speeds))


def tokeniser_cost(model: str, batch: int, batches: int = 20) -> dict[str, float]:
    """Milliseconds per batch: open_clip's tokenizer on distinct captions, and rsvl's caption
    cache on a batch it has seen (what repeated captions cost after the first epoch)."""
    from rsvl.models import load_clip
    from rsvl.training.data import CaptionTokens

    tokenizer = load_clip(model, device="cpu").tokenizer
    texts = [[caption(b * batch + i, "red", True) for i in range(batch)] for b in range(batches)]
    start = time.perf_counter()
    for chunk in texts:
        tokenizer(chunk)
    fresh = (time.perf_counter() - start) / batches
    cached = CaptionTokens(tokenizer)
    for chunk in texts:
        cached(chunk)
    start = time.perf_counter()
    for chunk in texts:
        cached(chunk)
    hit = (time.perf_counter() - start) / batches
    return {"tokenise_ms_per_batch": round(fresh * 1e3, 3),
            "cache_hit_ms_per_batch": round(hit * 1e3, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="OMP threads per trainer")
    parser.add_argument("--model", default="rsvl-tiny")
    parser.add_argument("--image-px", type=int, default=128, help="generated JPEG size")
    parser.add_argument("--precision", choices=("no", "bf16"), default="no",
                        help="precision of the rsvl / open_clip / raw comparison")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 vs fp32 runs")
    parser.add_argument("--bf16-steps", type=int, default=12,
                        help="steps of the other-precision runs (CPU bf16 is slow without "
                             "AVX512-BF16/AMX)")
    parser.add_argument("--shards", type=Path, help="existing shard folder (default: generate)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds per run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--raw-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.raw_child:
        raw_child(args)
        return 0
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1")
    samples = args.steps * args.batch + args.batch
    other = "bf16" if args.precision == "no" else "no"
    with tempfile.TemporaryDirectory(prefix="rsvl-bench-") as tmp:
        shards = args.shards or Path(tmp) / "shards"
        if args.shards is None:
            make_shards(shards, samples, distinct=True, size=args.image_px)
        repeated = Path(tmp) / "repeated"
        make_shards(repeated, samples, distinct=False, size=args.image_px)
        runs: dict[str, Any] = {
            "rsvl": lambda out: run_rsvl(shards, out, args, env, args.precision),
            "open_clip": lambda out: run_open_clip(shards, out, args, env, args.precision),
            "raw_limit": lambda out: run_raw(args, env, args.precision),
            "rsvl_repeated_captions": lambda out: run_rsvl(repeated, out, args, env,
                                                           args.precision),
        }
        if not args.no_bf16:
            steps = args.bf16_steps
            runs[f"rsvl_{other}"] = lambda out: run_rsvl(shards, out, args, env, other, steps)
            runs[f"raw_limit_{other}"] = lambda out: run_raw(args, env, other, steps)
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
        for index in range(args.repeats):
            order = list(runs) if index % 2 == 0 else list(reversed(runs))
            for name in order:
                rounds[name].append(runs[name](Path(tmp) / f"{name}-{index}"))
                print(f"  round {index} {name}: {rounds[name][-1]['samples_per_s']} samples/s",
                      flush=True)
    best = {name: max(rounds[name], key=lambda r: r["samples_per_s"]) for name in rounds}
    speed = {name: best[name]["samples_per_s"] for name in best}
    ratios = {
        "rsvl_over_open_clip": speed["rsvl"] / speed["open_clip"],
        "rsvl_over_raw_limit": speed["rsvl"] / speed["raw_limit"],
        "open_clip_over_raw_limit": speed["open_clip"] / speed["raw_limit"],
        "token_cache_repeated_over_distinct": speed["rsvl_repeated_captions"] / speed["rsvl"],
    }
    if not args.no_bf16:
        bf16, fp32 = ("rsvl_bf16", "rsvl") if other == "bf16" else ("rsvl", "rsvl_no")
        raw_bf16, raw_fp32 = (("raw_limit_bf16", "raw_limit") if other == "bf16"
                              else ("raw_limit", "raw_limit_no"))
        ratios["rsvl_bf16_over_fp32"] = speed[bf16] / speed[fp32]
        ratios["raw_bf16_over_fp32"] = speed[raw_bf16] / speed[raw_fp32]
    result: dict[str, Any] = {
        "bench": "train_throughput", "model": args.model, "batch": args.batch,
        "steps": args.steps, "workers": args.workers, "threads": args.threads,
        "precision": args.precision, "captions": "distinct per sample", "best": best,
        "ratios": {k: round(v, 3) for k, v in ratios.items()}, "rounds": rounds,
        "tokeniser": tokeniser_cost(args.model, args.batch),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "shards": str(args.shards or "generated"),
    }
    for name in best:
        print(f"{name:24s} {speed[name]:8.1f} samples/s  peak {best[name]['peak_rss_mb']} MB")
    for name, value in result["ratios"].items():
        print(f"ratio {name}: {value:.2f}")
    print(f"tokeniser: {result['tokeniser']}; {result['machine']}")
    print("targets: rsvl/open_clip >= 1.0, rsvl/raw_limit >= 0.9")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
