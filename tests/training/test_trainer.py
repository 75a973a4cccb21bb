"""End to end: 2 real CPU ranks, exact resume after SIGKILL, export, eval hook, bad inputs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import open_clip
import pytest
import torch

from rsvl.cli import main as cli_main
from rsvl.models import export_model, load_clip, read_export_info
from rsvl.models.registry import register_architectures
from rsvl.training.launch import accelerate_command, launch_environment

TINY = ["model.spec=rsvl-micro", "data.batch_size=8", "optim.warmup_steps=2",
        "run.log_every=1", "run.progress=false", "run.trackers=[]", "data.shuffle_buffer=16"]


def _overrides(*extra: str) -> list[str]:
    return [arg for item in (*TINY, *extra) for arg in ("--set", item)]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _losses(run_dir: Path) -> dict[int, float]:
    """Loss per step; a resumed run's later entries replace the killed run's."""
    return {e["step"]: e["loss"] for e in _jsonl(run_dir / "log.jsonl") if "loss" in e}


@pytest.mark.slow
def test_two_cpu_ranks_share_one_model(region_dataset: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    overrides = [f"data.train={region_dataset / 'shards'}", f"run.out_dir={run_dir}",
                 "run.max_steps=6", "run.log_ranks=true", "optim.accum_steps=2"]
    command = accelerate_command(2, None, [*TINY, *overrides], cpu=True)
    result = subprocess.run(command, env=launch_environment(cpu=True), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [_jsonl(run_dir / "ranks" / f"rank{r}.jsonl") for r in (0, 1)]
    assert [len(r) for r in ranks] == [6, 6]
    assert {e["num_processes"] for r in ranks for e in r} == {2}
    for first, second in zip(*ranks, strict=True):
        assert first["step"] == second["step"]
        assert first["weights_sha256"] == second["weights_sha256"]  # gradients were shared
    assert len({e["weights_sha256"] for e in ranks[0]}) == 6  # and the weights did move
    # Within an epoch (train chips // (2 ranks x 8 x 2 micro-batches) steps, from the start
    # entry) the ranks read different shards of shards/train, so never the same chip.
    assert {len(e["keys"]) for r in ranks for e in r} == {16}
    epoch_steps = _jsonl(run_dir / "log.jsonl")[0]["steps_per_epoch"]
    epoch_keys = [{k for e in r[:epoch_steps] for k in e["keys"]} for r in ranks]
    assert epoch_keys[0] and epoch_keys[1] and not epoch_keys[0] & epoch_keys[1]
    splits = {e["key"]: e["split"] for e in _jsonl(region_dataset / "records.jsonl")}
    assert {splits[k] for r in ranks for e in r for k in e["keys"]} == {"train"}
    losses = _losses(run_dir)
    assert losses[6] < losses[1]
    # The export loads in plain open_clip (rsvl's tiny architectures registered first).
    register_architectures()
    weights = run_dir / "export" / "open_clip_model.safetensors"
    model, _, _ = open_clip.create_model_and_transforms("rsvl-micro", pretrained=str(weights))
    assert torch.allclose(model.logit_scale, load_clip(str(run_dir / "export")).model.logit_scale)


def _train_process(config: list[str]) -> subprocess.Popen[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="1")
    return subprocess.Popen(
        [sys.executable, "-m", "rsvl.training.launch", *config], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_same_losses(
    colour_shards: Callable[..., Path], class_folder: Path, tmp_path: Path
) -> None:
    shards = colour_shards(samples=64, per_shard=16)
    val = class_folder
    common = [f"data.train={shards}", "data.workers=2", "run.max_steps=12", "run.save_every=3",
              "eval.every_steps=6", f"eval.dataset={val}"]
    reference = _train_process(_overrides(*common, f"run.out_dir={tmp_path / 'ref'}"))
    output, _ = reference.communicate(timeout=300)
    assert reference.returncode == 0, output[-3000:]

    killed = _train_process(_overrides(*common, f"run.out_dir={tmp_path / 'run'}"))
    assert killed.stdout is not None
    for line in killed.stdout:
        if line.startswith("saved step_"):
            killed.send_signal(signal.SIGKILL)
            break
    killed.wait(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    resumed = _train_process(_overrides(*common, f"run.out_dir={tmp_path / 'run'}"))
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output[-3000:]
    resumed_at = re.search(r"resumed from \S+ at step (\d+)", output)
    assert resumed_at and 3 <= int(resumed_at.group(1)) < 12

    expected = _losses(tmp_path / "ref")
    assert sorted(expected) == list(range(1, 13))
    assert _losses(tmp_path / "run") == expected  # exactly: same data order, same arithmetic
    accuracy = [e for e in _jsonl(tmp_path / "ref" / "log.jsonl") if "zero_shot_acc1" in e]
    assert [e["step"] for e in accuracy] == [6, 12]
    assert sorted(p.name for p in (tmp_path / "ref").glob("step_*")) == ["step_12", "step_9"]


def test_checkpoint_of_another_architecture_is_one_line(
    colour_shards: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    micro = export_model(load_clip("rsvl-micro", device="cpu").model, "rsvl-micro", tmp_path / "m")
    spec = f"rsvl-tiny:{micro / 'open_clip_model.safetensors'}"
    argv = ["train", "--cpu", *_overrides(f"model.spec={spec}",
            f"data.train={colour_shards(samples=16, per_shard=16)}",
            f"run.out_dir={tmp_path / 'run'}")]
    assert cli_main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "does not fit architecture rsvl-tiny" in error


def test_config_typo_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["train", "--set", "optim.warmup=5"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == ("rsvl train: error: --set optim.warmup=5: unknown key optim.warmup; "
                     "did you mean optim.warmup_steps?")


def test_run_seed_sets_the_initial_weights(
    colour_shards: Callable[..., Path], tmp_path: Path
) -> None:
    shards = colour_shards(samples=16, per_shard=16)
    parents = {}
    for seed in (0, 1):
        out = tmp_path / f"seed{seed}"
        argv = ["train", "--cpu", *_overrides(f"data.train={shards}", f"run.out_dir={out}",
                                              "run.max_steps=1", f"run.seed={seed}")]
        assert cli_main(argv) == 0
        info = read_export_info(out / "export")
        parents[seed] = info["provenance"]["parent_sha256"]
        assert parents[seed] == load_clip("rsvl-micro", device="cpu", seed=seed).checksum
    assert parents[0] != parents[1]


def test_long_captions_train_with_context_248_and_export_it(
    colour_shards: Callable[..., Path], tmp_path: Path
) -> None:
    shards = colour_shards(samples=16, per_shard=16, long_every=4)
    out = tmp_path / "run"
    argv = ["train", "--cpu", *_overrides(f"data.train={shards}", f"run.out_dir={out}",
                                          "run.max_steps=2", "model.context_length=248",
                                          "data.captions=long")]
    assert cli_main(argv) == 0
    log = _jsonl(out / "log.jsonl")
    assert [e["loss"] for e in log if "loss" in e] and log[0]["model.context_length"] == 248
    # Chips 0, 4, 8, 12 have no long descriptions: the one report counts them.
    (report,) = [e for e in log if e.get("event") == "long_captions"]
    assert report["no_long_caption_samples"] == 4 and report["no_long_caption_visits"] >= 4
    reloaded = load_clip(str(out / "export"), device="cpu")
    assert reloaded.model.context_length == 248
    assert reloaded.tokenizer(["a caption"]).shape == (1, 248)
    config = json.loads((out / "export" / "open_clip_config.json").read_text())
    assert config["model_cfg"]["text_cfg"]["context_length"] == 248
