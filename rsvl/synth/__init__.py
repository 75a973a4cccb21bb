"""The built-in synthetic region: OSM XML, an orthophoto rendered from it, its class raster.

>>> from rsvl.synth import generate_region
>>> region = generate_region("region", seed=0)       # doctest: +SKIP
>>> region.osm_path, region.orthophoto_path           # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from rsvl.synth.defaults import DEFAULT_GSD_M, DEFAULT_SEED, DEFAULT_SIZE_M, MIN_SIZE_M

# Resolved on first access (PEP 562) so that importing the defaults stays free of rasterio.
_LAZY = {
    "LandClass": "rsvl.synth.classes",
    "class_for_tags": "rsvl.synth.classes",
    "get_class": "rsvl.synth.classes",
    "list_classes": "rsvl.synth.classes",
    "RegionInfo": "rsvl.synth.region",
    "generate_region": "rsvl.synth.region",
    "load_region": "rsvl.synth.region",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'rsvl.synth' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)

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
