"""bf16 autocast (``run.mixed_precision=bf16``) on CPU: the tiny recipe's loss curve stays
close to fp32's, and is not fp32's (autocast really ran)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TINY = ["model.spec=rsvl-micro", "data.batch_size=8", "optim.warmup_steps=2", "run.log_every=1",
        "run.progress=false", "run.trackers=[]", "data.shuffle_buffer=16", "run.max_steps=8",
        "run.export=false"]
# bf16 keeps 8 mantissa bits (relative rounding 2^-9 = 0.2%) in every matmul; features carry
# ~0.4% error, which the temperature (x14 at init) turns into ~0.05 on the logits and ~0.01 on
# the loss (measured: at most 0.0099 over these 8 steps). 0.05 allows 5x that; a wrong cast
# (fp16 overflow, a bf16 loss reduction) moves the loss by 0.1 or more.
TOLERANCE = 0.05


@pytest.mark.slow
def test_bf16_loss_curve_follows_fp32(colour_shards: Callable[..., Path], tmp_path: Path) -> None:
    shards = colour_shards(samples=64, per_shard=16)
    env = dict(os.environ, OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="1")
    runs = {}
    for precision in ("no", "bf16"):
        out = tmp_path / precision
        argv = [a for item in (*TINY, f"data.train={shards}", f"run.out_dir={out}",
                               f"run.mixed_precision={precision}") for a in ("--set", item)]
        runs[precision] = (out, subprocess.Popen(
            [sys.executable, "-m", "rsvl.training.launch", *argv], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    curves = {}
    for precision, (out, process) in runs.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-3000:]
        log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        curves[precision] = [e["loss"] for e in log if "loss" in e]
    assert len(curves["no"]) == len(curves["bf16"]) == 8
    gaps = [abs(a - b) for a, b in zip(curves["no"], curves["bf16"], strict=True)]
    assert max(gaps) < TOLERANCE, gaps
    assert max(gaps) > 0  # the bf16 run really computed in bf16
    assert curves["bf16"][-1] < curves["bf16"][0]
