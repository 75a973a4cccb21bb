"""Focus objects: the OSM features a build makes chips of, in the imagery's CRS.

A focus object is any feature whose cleaned tags have a groundable phrase (``describe``); the
readers already merge the pieces of an object cut by tiles, so each object gets one chip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import shapely

from rsvl.errors import InputError
from rsvl.imagery.base import Imagery
from rsvl.imagery.geo import WGS84, transform_bounds
from rsvl.osm import read_features
from rsvl.osm.tags import TagVocabulary, clean_tags, describe

_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-]+")


@dataclass
class FocusFeatures:
    """Features prepared for a build.

    Attributes:
        frame: ``osm_id``, ``tags`` (cleaned), ``phrase`` (``None`` when not groundable) and
            ``geometry`` in the imagery CRS, one row per OSM object, sorted by ``osm_id``,
            only those overlapping the imagery.
        vocabulary: Phrase counts of the focus objects (the build's tag vocabulary report).
        outside: Focus objects read near the imagery whose footprint misses it.
    """

    frame: gpd.GeoDataFrame
    vocabulary: TagVocabulary
    outside: int


def sample_key(source: str, osm_id: str) -> str:
    """The record key of a focus object's chip: ``{source}-{osm_type}-{osm_id}``."""
    return _UNSAFE_KEY_CHARS.sub("_", f"{source}-{osm_id.replace('/', '-')}")


def load_focus_features(osm: str, imagery: Imagery,
                        read_options: Mapping[str, Any] | None = None) -> FocusFeatures:
    """Read the OSM features over the imagery and prepare them in the imagery's CRS.

    Args:
        osm: Any source :func:`rsvl.osm.read_features` reads.
        imagery: The imagery the chips come from.
        read_options: Further keyword arguments for ``read_features`` (``default_tags``...).

    Raises:
        InputError: No OSM feature overlaps the imagery.
    """
    bbox = transform_bounds(imagery.bounds, imagery.crs, WGS84)
    raw = read_features(osm, bbox=bbox, **dict(read_options or {}))
    frame = raw.sort_values("osm_id", kind="stable").reset_index(drop=True).to_crs(imagery.crs)
    raw_tags = list(frame["tags"])
    frame["tags"] = [clean_tags(tags) for tags in raw_tags]
    frame["phrase"] = [describe(tags) for tags in frame["tags"]]
    inside = frame.geometry.intersects(shapely.box(*imagery.bounds))
    if not inside.any():
        raise InputError(
            f"no OSM feature overlaps imagery {imagery.source} (bounds {imagery.bounds} in "
            f"{imagery.crs}; {len(raw)} features read from {osm} around it): check that they "
            "cover the same area"
        )
    focus = frame["phrase"].notna()
    vocabulary = TagVocabulary()
    # Raw tags, so the report also counts what cleaning dropped.
    vocabulary.update(tags for tags, keep in zip(raw_tags, focus & inside, strict=True) if keep)
    outside = int((focus & ~inside).sum())
    return FocusFeatures(frame.loc[inside].reset_index(drop=True), vocabulary, outside)
