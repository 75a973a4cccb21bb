"""Argument types and options shared by several subcommands (light: no heavy imports)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def key_value(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` as a pair of strings."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def reader_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with a JSON value (``max_zoom=17``, ``bounds=[w,s,e,n]``) or plain text."""
    key, value = key_value(text)
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def add_imagery_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--imagery`` (any source :func:`rsvl.imagery.open_imagery` takes) and its reader
    options ``--imagery-option KEY=VALUE``."""
    parser.add_argument("--imagery", required=required,
                        help="GeoTIFF/COG/VRT (a path, /vsicurl/, /vsis3/ or https:// URL), a "
                        "{z}/{x}/{y} tile folder, an MBTiles file or a tile server URL template "
                        "https://host/{z}/{x}/{y}.png")
    parser.add_argument("--imagery-option", type=reader_option, action="append", default=[],
                        metavar="KEY=VALUE", help="imagery reader option, e.g. max_zoom=17, "
                        "bounds=[W,S,E,N], cache=DIR, missing=error, retries=6 (repeatable)")
