"""``rsvl demo``: region -> datasets -> training -> evaluation -> report on the built-in region."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HELP = "run the whole loop (region -> build -> train -> eval -> report) on the built-in region"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rsvl demo``."""
    from rsvl.demo import recipe
    from rsvl.synth.defaults import DEFAULT_SEED

    cores = os.cpu_count() or 1
    parser.add_argument("--out", type=Path, default=Path("demo"),
                        help="output folder (default: ./demo); a rerun reuses what still matches")
    parser.add_argument("--size-m", type=float, default=float(recipe()["region_size_m"]),
                        help="side of the synthetic region in metres (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="seed of the region, splits, captions and training (default 0)")
    parser.add_argument("--processes", type=int, default=2 if cores >= 2 else 1,
                        help="training ranks via accelerate launch (default: 2 with >= 2 cores)")
    parser.add_argument("--steps", type=int, help="training steps (default: the recipe's)")
    parser.add_argument("--workers", type=int, default=min(2, cores),
                        help="dataset build worker processes (default: up to 2)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the demo's previous outputs in --out first")


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the figures and where the report is."""
    from rsvl.demo import DemoOptions, run_demo
    from rsvl.demo.summary import majority_text

    result = run_demo(DemoOptions(out=args.out, size_m=args.size_m, seed=args.seed,
                                  processes=args.processes, steps=args.steps,
                                  fresh=args.fresh, workers=args.workers))
    print()
    print(f"{'task':<26}{'chance':>8}{'majority':>10}{'untrained':>11}{'trained':>9}")
    for task, entry in result.figures.items():
        print(f"{task:<26}{entry['chance']:>8.3f}{majority_text(entry):>10}"
              f"{entry['untrained']:>11.3f}{entry['trained']:>9.3f}")
    print(f"\ndemo finished in {result.seconds.get('total', 0):.0f} s; report: {result.report}")
    return 0


__all__ = ["HELP", "add_arguments", "run"]
