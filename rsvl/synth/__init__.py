"""The built-in synthetic region: OSM XML, an orthophoto rendered from it, its class raster.

>>> from rsvl.synth import generate_region
>>> region = generate_region("region", seed=0)       # doctest: +SKIP
>>> region.osm_path, region.orthophoto_path           # doctest: +SKIP
"""

from __future__ import annotations

from rsvl.synth.classes import LandClass, class_for_tags, get_class, list_classes
from rsvl.synth.region import (
    DEFAULT_GSD_M,
    DEFAULT_SEED,
    DEFAULT_SIZE_M,
    MIN_SIZE_M,
    RegionInfo,
    generate_region,
    load_region,
)

__all__ = [
    "DEFAULT_GSD_M",
    "DEFAULT_SEED",
    "DEFAULT_SIZE_M",
    "MIN_SIZE_M",
    "LandClass",
    "RegionInfo",
    "class_for_tags",
    "generate_region",
    "get_class",
    "list_classes",
    "load_region",
]
