"""The launch command: the accelerate flags that really give N CPU ranks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from rsvl.training.launch import accelerate_command, launch_environment


def test_cpu_launch_uses_the_flags_that_give_real_ranks() -> None:
    command = accelerate_command(2, "c.json", ["run.max_steps=3"], cpu=True)
    joined = " ".join(command)
    assert "--multi_gpu --num_machines 1 --mixed_precision no --dynamo_backend no" in joined
    assert "--cpu" not in command  # `--cpu --num_processes 2` silently runs one process
    assert joined.endswith("-m rsvl.training.launch --config c.json --set run.max_steps=3")
    env = launch_environment(cpu=True)
    assert env["ACCELERATE_USE_CPU"] == "1" and env["OMP_NUM_THREADS"]


def test_gpu_launch_leaves_precision_to_the_config() -> None:
    command = accelerate_command(4, None, [], cpu=False)
    assert "--multi_gpu" in command and "--mixed_precision" not in command


def test_gpu_check_script_parses_and_needs_a_gpu(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    if shutil.which("nvidia-smi"):
        return  # a GPU machine: the script runs for real, not in the tests
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip() == "gpu_check: no nvidia-smi here (needs an NVIDIA GPU)"
