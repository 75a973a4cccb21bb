"""The launch command: the accelerate flags that really give N CPU ranks."""

from __future__ import annotations

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
