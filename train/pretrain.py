"""Continual pretraining of a CLIP model; the same script on one CPU, one GPU, many GPUs/nodes.

    accelerate launch train/pretrain.py --config train/configs/tiny-cpu.json [--set k=v ...]

All logic lives in :mod:`rsvl.training`; see train/README.md for the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rsvl.training.launch import main as train_main


def main(argv: Sequence[str] | None = None) -> int:
    """Train with the config and overrides on the command line."""
    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())
