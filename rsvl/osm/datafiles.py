"""Load the reviewed JSON data files shipped inside rsvl's packages."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load_data(package: str, name: str) -> dict[str, Any]:
    """The JSON object ``name`` inside ``package``, without its ``_comment``-style keys.

    Args:
        package: The package holding the file (``"rsvl.osm"``).
        name: The path inside the package (``"data/feature_phrases.json"``).
    """
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return {key: value for key, value in json.loads(text).items() if not key.startswith("_")}
