"""What every recipe shares: the data folder, common options, running ``rsvl build``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rsvl.cli import main as rsvl_main

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def parse(description: str, argv: Sequence[str] | None, default_out: str
          ) -> tuple[argparse.Namespace, list[str]]:
    """Recipe options; anything unknown is passed on to ``rsvl build`` as it is."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=SHARED_DATA,
                        help=f"the real-data folder (default: {SHARED_DATA})")
    parser.add_argument("--out", type=Path, default=Path(default_out))
    parser.add_argument("--workers", default="1")
    return parser.parse_known_args(argv)


def run_jobs(jobs: Sequence[str], arguments: Sequence[str]) -> int:
    """Run ``rsvl build JOB ARGUMENTS`` for each job (later jobs resume the first's chips)."""
    for job in jobs:
        status = rsvl_main(["build", job, *arguments])
        if status:
            return status
    return 0
