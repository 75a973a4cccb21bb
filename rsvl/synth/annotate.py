"""Non-visual tags real OSM data carries (names, addresses, sources, opening hours).

They tell a model nothing about the pixels, which is the point: tag cleaning downstream must
remove them, so the synthetic region has to carry them. Values come from ``names.json``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rsvl.synth.classes import get_class
from rsvl.synth.scene import Feature

NAMES_FILE = Path(__file__).with_name("names.json")
NAMED_CLASSES: dict[str, str] = {
    "retail_building": "shops",
    "commercial_building": "firms",
    "industrial_building": "firms",
    "water": "lakes",
}
OPEN_CLASSES = ("retail_building", "commercial_building")
STREET_CLASSES = ("residential_road", "primary_road", "service_road")


@lru_cache(maxsize=1)
def _names() -> dict[str, Any]:
    return json.loads(NAMES_FILE.read_text(encoding="utf-8"))


def town_name(seed: int) -> str:
    """The town's name for ``seed``."""
    towns = _names()["towns"]
    return str(towns[seed % len(towns)])


def annotate(features: list[Feature], seed: int) -> None:
    """Add names, addresses, sources, opening hours and notes to ``features`` in place."""
    rng = np.random.default_rng([seed, 31337])
    names = _names()
    town = town_name(seed)
    postcode = str(8000 + seed % 900)
    house_number = 0
    for feature in features:
        tags = feature.tags
        if rng.random() < 0.6:
            tags["source"] = str(rng.choice(names["sources"]))
        if feature.cls in STREET_CLASSES:
            tags["name"] = str(rng.choice(names["streets"]))
        if feature.tags.get("waterway") == "river" or feature.tags.get("water") == "river":
            tags["name"] = names["rivers"][seed % len(names["rivers"])]
        if feature.cls == "railway":
            tags["name"] = "Suedbahn"
        if feature.cls in NAMED_CLASSES and tags.get("water") != "river" and rng.random() < 0.8:
            tags["name"] = str(rng.choice(names[NAMED_CLASSES[feature.cls]]))
        if feature.cls in OPEN_CLASSES:
            tags["opening_hours"] = str(rng.choice(names["opening_hours"]))
        if feature.cls and get_class(feature.cls).kind == "building":
            house_number += 1
            tags.update(
                {
                    "addr:street": str(rng.choice(names["streets"])),
                    "addr:housenumber": str(house_number % 120 + 1),
                    "addr:postcode": postcode,
                    "addr:city": town,
                }
            )
        if rng.random() < 0.03:
            tags["note"] = str(rng.choice(names["notes"]))
