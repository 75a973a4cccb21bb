"""``rsvl demo``: not built yet (see the README's roadmap)."""

from __future__ import annotations

import argparse

from rsvl.cli.not_built import refuse as run

HELP = "run the whole loop (region -> build -> train -> eval -> report) on the built-in region"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options until the feature is built."""


__all__ = ["HELP", "add_arguments", "run"]
