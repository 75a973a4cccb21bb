"""``rsvl build import``: convert a published dataset into rsvl records and shards.

Exposes ``HELP``, ``add_arguments(parser)`` and ``run(args)`` for the ``import`` entry of
``rsvl.cli.build.JOBS``; heavy modules are imported inside :func:`run`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rsvl.errors import InputError

HELP = "import a Karpathy JSON, CSV/TSV, class folder or Hugging Face dataset as records"
FORMATS = ("karpathy", "csv", "folder", "hf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of every format; each format reads only its own (see ``rsvl.builders.importers``)."""
    parser.add_argument("source", help="caption JSON, CSV/TSV, class-folder root, or Hugging "
                        "Face dataset id / builder (parquet, imagefolder)")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    parser.add_argument("--out", required=True, help="output dataset folder")
    parser.add_argument("--name", required=True, help="dataset name kept in every record")
    parser.add_argument("--licence", required=True, help="licence of the images and captions")
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--images-dir", help="karpathy/csv: folder the image paths start from")
    parser.add_argument("--allow-outside-images-dir", action="store_true", default=None,
                        help="karpathy/csv/folder: accept image paths that leave the images "
                        "folder (absolute, '..', symlinks out); only for caption files you trust")
    parser.add_argument("--image-column", help="csv: image path column (default filepath); "
                        "hf: Image column (default image)")
    parser.add_argument("--caption-column", help="csv: caption column (default title); "
                        "hf: caption or caption-list column (default text)")
    parser.add_argument("--separator", help="csv: field separator (default: tab for .tsv)")
    parser.add_argument("--split-column", help="csv: column holding each row's split")
    parser.add_argument("--split", help="csv/folder: split of every image (default train)")
    parser.add_argument("--template", action="append", dest="templates",
                        help="folder: caption template with {class}; repeat for more captions "
                        "(default: 'a satellite image of {class}')")
    parser.add_argument("--class-names", help="folder: JSON file mapping folder -> class name")
    parser.add_argument("--data-files", nargs="+", metavar="SPLIT=PATH",
                        help="hf: files per split for local builders (parquet, csv, json)")
    parser.add_argument("--data-dir", help="hf: folder for builders such as imagefolder")
    parser.add_argument("--hf-config", help="hf: the dataset's configuration name")
    parser.add_argument("--key-column", help="hf: column of unique ids (default key)")


def format_options(args: argparse.Namespace, accepted: tuple[str, ...]) -> dict[str, Any]:
    """The given options the chosen format accepts, converted to the reader's types."""
    values: dict[str, Any] = {
        name: getattr(args, name) for name in accepted
        if getattr(args, name, None) is not None
    }
    if "class_names" in values:
        values["class_names"] = _read_class_names(Path(values["class_names"]))
    if "data_files" in values:
        values["data_files"] = dict(_split_path(text) for text in values["data_files"])
    return values


def _read_class_names(path: Path) -> dict[str, str]:
    from rsvl.data.atomic import read_json

    names = read_json(path, "--class-names file")
    if not isinstance(names, dict):
        raise InputError(f"--class-names {path}: expected an object mapping folder -> name")
    return {str(k): str(v) for k, v in names.items()}


def _split_path(text: str) -> tuple[str, str]:
    split, sep, path = text.partition("=")
    if not sep:
        raise InputError(f"--data-files {text!r}: write SPLIT=PATH (test=rsicd/test.parquet)")
    return split, path


def run(args: argparse.Namespace) -> int:
    """Import the dataset; print one line per split and open_clip's training pattern."""
    from rsvl.builders.export import open_clip_command
    from rsvl.builders.importers import get_format, import_dataset
    from rsvl.builders.manifest import MANIFEST_FILE
    from rsvl.data.atomic import read_json

    options = format_options(args, get_format(args.fmt).OPTIONS)
    records = import_dataset(args.fmt, args.source, args.out, name=args.name,
                             licence=args.licence, shard_size=args.shard_size,
                             command=["rsvl", *sys.argv[1:]], **options)
    counts = {s: sum(r.split == s for r in records) for s in ("train", "val", "test")}
    print(f"{args.out}: {len(records)} images from {args.source} "
          f"(train {counts['train']}, val {counts['val']}, test {counts['test']})")
    manifest = read_json(Path(args.out) / MANIFEST_FILE, "manifest")
    print(open_clip_command(manifest.get("open_clip", {})))
    return 0


__all__ = ["HELP", "add_arguments", "run"]
