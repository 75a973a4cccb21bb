"""Entry points: the training script's ``main(argv)`` and the multi-process launch command.

``python -m rsvl.training.launch --config C [--set k=v ...]`` is the script that every process
runs (``train/pretrain.py`` is a thin alias of it); :func:`accelerate_command` builds the
``accelerate launch`` line that starts several processes of it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence

from rsvl.errors import EXIT_SYSTEM_ERROR, EXIT_USER_ERROR, RsvlError, describe_os_error

# Measured (README, training section): `--cpu --num_processes N` silently runs ONE process; two real
# DDP ranks on CPU need --multi_gpu plus ACCELERATE_USE_CPU=1 in the environment.
_CPU_FLAGS = ("--multi_gpu", "--num_machines", "1", "--mixed_precision", "no",
              "--dynamo_backend", "no", "--main_process_port", "0")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and repeatable ``--set section.key=value`` overrides."""
    parser.add_argument("--config", help="JSON or YAML training config (train/configs/*.json)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one config value, e.g. --set optim.lr=1e-4 (repeatable)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Train in this process (one rank of an ``accelerate launch`` or a plain single run)."""
    from rsvl.training.config import load_config
    from rsvl.training.trainer import train

    parser = argparse.ArgumentParser(description="Continually pretrain a CLIP model.")
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    try:
        result = train(load_config(args.config, args.overrides))
    except RsvlError as error:
        print(f"rsvl train: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as error:
        print(f"rsvl train: system error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_SYSTEM_ERROR
    if os.environ.get("RANK", "0") == "0":  # every rank gets here; one says so
        print(f"finished at step {result.step} on {result.num_processes} process(es); "
              f"run folder {result.out_dir}")
    return 0


def accelerate_command(
    processes: int, config: str | None, overrides: Sequence[str], cpu: bool,
    program: Sequence[str] = ("-m", "rsvl.training.launch"),
) -> list[str]:
    """The ``accelerate launch`` argument list running ``program`` (default: this module) in
    ``processes`` ranks."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes",
               str(processes)]
    if cpu:
        command += list(_CPU_FLAGS)
    elif processes > 1:
        command += ["--multi_gpu", "--main_process_port", "0"]
    command += list(program)
    if config:
        command += ["--config", config]
    for override in overrides:
        command += ["--set", override]
    return command


def run_training(
    config: str | None, overrides: Sequence[str] = (), processes: int = 1, cpu: bool = False
) -> int:
    """Train in this process (``processes == 1``) or in ``processes`` ranks of ``accelerate
    launch``; returns the exit status. ``cpu`` forces CPU ranks even where a GPU is present."""
    if processes < 1:
        from rsvl.errors import ConfigError

        raise ConfigError(f"--processes must be at least 1, got {processes}")
    if processes == 1:
        if cpu:
            os.environ["ACCELERATE_USE_CPU"] = "1"
        argv = ["--config", config] if config else []
        for override in overrides:
            argv += ["--set", override]
        return main(argv)
    import torch

    cpu = cpu or not torch.cuda.is_available()
    command = accelerate_command(processes, config, overrides, cpu)
    return subprocess.run(command, env=launch_environment(cpu), check=False).returncode


def launch_environment(cpu: bool) -> dict[str, str]:
    """Environment for the launched ranks: CPU ranks use one thread each (2 cores, 2 ranks)."""
    env = dict(os.environ)
    if cpu:
        env.update(ACCELERATE_USE_CPU="1", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    return env


if __name__ == "__main__":
    sys.exit(main())
