"""Class display names from folder names: the one rule the importers and evaluators share.

Underscores and dashes become spaces, CamelCase and acronym boundaries are split and the result
lower-cased (``SeaLake`` -> ``sea lake``, ``USGSImages`` -> ``usgs images``); run-together names
are fixed from ``class_names.json`` (``railwaystation`` -> ``railway station``). Kept free of
torch so that dataset import stays light.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from importlib import resources

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[_\-\s]+")


@functools.cache
def _run_together_fixes() -> dict[str, str]:
    text = resources.files("rsvl.data").joinpath("class_names.json").read_text()
    return dict(json.loads(text)["names"])


def display_name(folder: str, overrides: Mapping[str, str] | None = None) -> str:
    """The class name used in captions and prompts for a class folder.

    Args:
        folder: The class folder's name.
        overrides: Per-dataset folder -> display name fixes; they win over the rules.
    """
    if overrides and folder in overrides:
        return overrides[folder]
    words = _SEPARATORS.sub(" ", _CAMEL_BOUNDARY.sub(" ", folder)).strip().lower()
    return _run_together_fixes().get(words, words)
