"""``rsvl train``: continually pretrain a CLIP model; ``rsvl train wise-ft``: interpolate weights.

``rsvl train --config C [--set k=v ...]`` trains in this process (one CPU or GPU);
``--processes N`` starts N ranks with ``accelerate launch`` (on CPU with the flags that really
give N DDP ranks, see the README). Several GPUs or nodes: run
``accelerate launch -m rsvl.training.launch --config C`` with your own accelerate config.
"""

from __future__ import annotations

import argparse

HELP = "continually pretrain a CLIP model (Accelerate; --processes N for N ranks); wise-ft"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Training options, plus the ``wise-ft`` sub-job."""
    from rsvl.training.launch import add_config_arguments

    add_config_arguments(parser)
    parser.add_argument("--processes", type=int, default=1,
                        help="number of ranks to launch with accelerate (default: 1, in-process)")
    parser.add_argument("--cpu", action="store_true",
                        help="train on CPU even when a GPU is present")
    jobs = parser.add_subparsers(dest="job", metavar="JOB")
    wise = jobs.add_parser("wise-ft", help="interpolate initial and trained weights (WiSE-FT)")
    wise.add_argument("--initial", required=True, help="model spec before training")
    wise.add_argument("--trained", required=True, help="model spec after training")
    wise.add_argument("--alpha", type=float, default=0.5,
                      help="weight of the trained model, 0..1 (default: 0.5)")
    wise.add_argument("--out", required=True, help="export folder for the interpolated model")
    wise.add_argument("--allow-other-initial", action="store_true",
                      help="interpolate although --initial is not the model the trained export "
                      "records as its parent (default: refuse)")


def run(args: argparse.Namespace) -> int:
    """Train (in-process or launched), or run the wise-ft sub-job."""
    if args.job == "wise-ft":
        from rsvl.training.wise_ft import wise_ft

        out = wise_ft(args.initial, args.trained, args.alpha, args.out,
                      allow_other_initial=args.allow_other_initial)
        print(f"wrote {out} (alpha={args.alpha})")
        return 0
    from rsvl.training.launch import run_training

    return run_training(args.config, args.overrides, args.processes, args.cpu)


__all__ = ["HELP", "add_arguments", "run"]
