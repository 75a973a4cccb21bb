"""``rsvl search``: not built yet (see the README's roadmap)."""

from __future__ import annotations

import argparse

from rsvl.cli.not_built import refuse as run

HELP = "search an image index by text or image"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options until the feature is built."""


__all__ = ["HELP", "add_arguments", "run"]
