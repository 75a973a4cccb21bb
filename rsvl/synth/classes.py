"""The class vocabulary of the synthetic region, read from ``classes.json``.

Each class names the OSM tags that identify it, its painting order ``z`` (a higher class covers
a lower one where features overlap), its geometry kind, and its look (a texture name from
``rsvl.synth.textures`` plus parameters). Adding a class is a data change, not a code change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rsvl.errors import ConfigError

CLASSES_FILE = Path(__file__).with_name("classes.json")


@dataclass(frozen=True)
class LandClass:
    """One class of the synthetic region.

    Attributes:
        id: value of the class in ``classes.tif`` (0 is nodata).
        name: unique snake_case name.
        kind: ``area``, ``line``, ``building``, or ``none`` for the nodata/ground fillers.
        z: painting order; a higher ``z`` is drawn over a lower one.
        tags: alternative OSM tag sets; a feature carrying all tags of one set has this class.
        width_m: rendered width of line classes (0 for the others).
        look: texture name and parameters used by the renderer.
    """

    id: int
    name: str
    kind: str
    z: int
    tags: tuple[Mapping[str, str], ...]
    width_m: float = 0.0
    look: Mapping[str, Any] = field(default_factory=dict)

    @property
    def osm_tags(self) -> dict[str, str]:
        """The canonical tag set written to OSM for features of this class."""
        return dict(self.tags[0]) if self.tags else {}


@lru_cache(maxsize=1)
def _registry() -> dict[str, LandClass]:
    payload = json.loads(CLASSES_FILE.read_text(encoding="utf-8"))
    classes = [
        LandClass(
            id=int(entry["id"]),
            name=entry["name"],
            kind=entry["kind"],
            z=int(entry["z"]),
            tags=tuple(entry["tags"]),
            width_m=float(entry.get("width_m", 0.0)),
            look=entry["look"],
        )
        for entry in payload["classes"]
    ]
    return {land_class.name: land_class for land_class in sorted(classes, key=lambda c: c.id)}


def list_classes() -> list[LandClass]:
    """All classes, ordered by id (``nodata`` first)."""
    return list(_registry().values())


def get_class(name: str) -> LandClass:
    """The class called ``name``.

    Raises:
        ConfigError: when no class has that name.
    """
    try:
        return _registry()[name]
    except KeyError:
        known = ", ".join(_registry())
        raise ConfigError(f"unknown synthetic class {name!r}; known classes: {known}") from None


def class_for_tags(tags: Mapping[str, Any]) -> LandClass | None:
    """The class whose tag set ``tags`` carries (highest ``z`` wins), or None.

    Values that are missing or not strings (NaN from a GeoDataFrame) never match.
    """
    matches = [
        land_class
        for land_class in _registry().values()
        if any(all(tags.get(k) == v for k, v in tag_set.items()) for tag_set in land_class.tags)
    ]
    return max(matches, key=lambda c: c.z) if matches else None
