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
