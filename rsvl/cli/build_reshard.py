"""``rsvl build reshard``: rewrite an old mixed-split shard folder into per-split folders.

Exposes ``HELP``, ``add_arguments(parser)`` and ``run(args)`` for the ``reshard`` entry of
``rsvl.cli.build.JOBS``; heavy modules are imported inside :func:`run`.
"""

from __future__ import annotations

import argparse

HELP = "rewrite an old shard folder holding every split into shards/{train,val,test}/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The dataset root (or its shard folder) and an optional shard size."""
    parser.add_argument("path", metavar="DIR",
                        help="dataset root holding shards/, or the shard folder itself")
    parser.add_argument("--shard-size", type=int, default=None,
                        help="samples per new shard (default: the old folder's largest)")


def run(args: argparse.Namespace) -> int:
    """Rewrite the shards and print the shards per split and open_clip's training pattern."""
    from pathlib import Path

    from rsvl.builders.export import open_clip_command, open_clip_recipe, reshard
    from rsvl.data.shards import SHARDS_DIR, read_sizes, split_folders

    shards = reshard(args.path, args.shard_size)
    folder = Path(args.path)
    shards_root = folder if split_folders(folder) else folder / SHARDS_DIR
    samples = {split: sum(read_sizes(shards_root / split).values()) for split in shards}
    print(f"{shards_root}: " + ", ".join(f"{s} {n} shards" for s, n in shards.items()))
    print(open_clip_command(open_clip_recipe(shards_root, shards, samples)))
    return 0


__all__ = ["HELP", "add_arguments", "run"]
