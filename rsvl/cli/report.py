"""``rsvl report DIR``: Markdown and CSV tables from a folder of result JSON files."""

from __future__ import annotations

import argparse

HELP = "build Markdown and CSV tables from a folder of result JSON files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The results folder and where to write the report."""
    parser.add_argument("folder", help="folder of result JSON files (searched recursively)")
    parser.add_argument("--out", help="where to write report.md and the CSVs (default: FOLDER)")


def run(args: argparse.Namespace) -> int:
    """Write report.md, <task>.csv and all_metrics.csv; print their paths."""
    from rsvl.evaluation.report import write_report

    for path in write_report(args.folder, args.out):
        print(path)
    return 0


__all__ = ["HELP", "add_arguments", "run"]
