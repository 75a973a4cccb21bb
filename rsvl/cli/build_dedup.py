"""``rsvl build dedup``: find evaluation images inside training sets and exclude them.

Exposes ``HELP``, ``add_arguments(parser)`` and ``run(args)`` for the ``dedup`` entry of
``rsvl.cli.build.JOBS``; heavy modules are imported inside :func:`run`.
"""

from __future__ import annotations

import argparse

HELP = "find duplicate images across datasets; exclude evaluation images from training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Evaluation and training sets as ``ROOT[:split,split]``, thresholds, optional model."""
    from rsvl.builders.dedup import DEFAULT_MAX_DISTANCE, DEFAULT_MIN_COSINE

    parser.add_argument("--eval", nargs="+", required=True, metavar="ROOT[:SPLITS]",
                        help="evaluation datasets (default splits: val,test)")
    parser.add_argument("--train", nargs="+", required=True, metavar="ROOT[:SPLITS]",
                        help="training datasets (default split: train); removed.json is "
                        "written into each")
    parser.add_argument("--out", required=True, help="folder for overlaps.md and overlaps.csv")
    parser.add_argument("--max-distance", type=int, default=DEFAULT_MAX_DISTANCE,
                        help="largest pHash Hamming distance (of 64 bits) called a duplicate")
    parser.add_argument("--model", help="also compare image embeddings of this model spec")
    parser.add_argument("--min-cosine", type=float, default=DEFAULT_MIN_COSINE,
                        help="embedding cosine similarity called a duplicate")


def run(args: argparse.Namespace) -> int:
    """Fingerprint the sets, write removals and the overlap table, print the table."""
    from rsvl.builders.dedup import deduplicate, load_image_set, parse_set, table_markdown

    eval_sets = [load_image_set(*parse_set(s, ("val", "test"))) for s in args.eval]
    train_sets = [load_image_set(*parse_set(s, ("train",))) for s in args.train]
    report = deduplicate(eval_sets, train_sets, args.out, args.max_distance, args.model,
                         args.min_cosine)
    print(table_markdown(report.table), end="")
    for path in report.removed_files:
        print(f"{path}: written")
    return 0


__all__ = ["HELP", "add_arguments", "run"]
