"""``rsvl report``: not built yet (see the README's roadmap)."""

from __future__ import annotations

import argparse

from rsvl.cli.not_built import refuse as run

HELP = "build Markdown and CSV tables from a folder of result JSON files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options until the feature is built."""


__all__ = ["HELP", "add_arguments", "run"]
