"""Whether a closed way is an area (polygon) or a ring (linestring), from its tags.

The rules are data (``data/area_keys.json``, the iD editor's ``areaKeys`` convention):
libosmium's area assembler turns every closed way into an area unless ``area=no``, which would
make a roundabout or a fence a polygon.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from rsvl.osm.datafiles import load_data


@cache
def area_keys() -> dict[str, frozenset[str]]:
    """Area keys mapped to the values that keep a closed way linear."""
    raw = load_data("rsvl.osm", "data/area_keys.json")
    return {key: frozenset(values) for key, values in raw.items()}


def is_area(tags: Mapping[str, str]) -> bool:
    """True when a closed way with these tags describes an area.

    Args:
        tags: The way's tags.

    Returns:
        ``area=yes`` wins, ``area=no`` loses; otherwise any area key whose value is neither
        ``no`` nor one of that key's linear values makes it an area.
    """
    area = tags.get("area")
    if area in ("yes", "no"):
        return area == "yes"
    keys = area_keys()
    return any(
        key in keys and value != "no" and value not in keys[key] for key, value in tags.items()
    )
