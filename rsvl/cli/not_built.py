"""Shared behaviour of subcommands whose feature is not built yet."""

from __future__ import annotations

import argparse

from rsvl.errors import NotBuiltYet


def refuse(args: argparse.Namespace) -> int:
    """Say plainly that the subcommand is not built yet (exit status 2 via the CLI)."""
    raise NotBuiltYet(f"'rsvl {args.command}' is not built yet in rsvl; see the README's roadmap")
