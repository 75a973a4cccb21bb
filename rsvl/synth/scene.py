"""Scene primitives: the region's grid and the features placed on it (shared by every stage)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from affine import Affine
from shapely.geometry.base import BaseGeometry

from rsvl.synth.classes import get_class

# UTM zone 33N, eastern Austria: a real projected CRS in a plausible place for a small town.
CRS = "EPSG:32633"
ORIGIN_EAST_M = 531_000.0
ORIGIN_SOUTH_M = 5_290_000.0


@dataclass
class Feature:
    """One mapped object of the region.

    Attributes:
        geometry: Polygon (areas, buildings) or LineString (roads, railway, river centreline) in
            the region's CRS (metres).
        cls: class name in the registry (``rsvl.synth.classes``); empty for features that are
            written to OSM but not rendered (the river centreline).
        tags: OSM tags.
        angle: direction (radians, counter-clockwise from east) of the feature's long axis; the
            textures' ``u`` axis.
        variant: roof shape code for buildings (0 flat, 1 gabled, 2 hipped).
        height_m: height above ground (buildings; casts a shadow).
    """

    geometry: BaseGeometry
    cls: str
    tags: dict[str, str]
    angle: float = 0.0
    variant: int = 0
    height_m: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def class_feature(cls: str, geometry: BaseGeometry, angle: float = 0.0, **tags: str) -> Feature:
    """A feature of class ``cls`` tagged with the class's OSM tags plus ``tags``."""
    return Feature(geometry, cls, {**get_class(cls).osm_tags, **tags}, angle=angle)


@dataclass(frozen=True)
class RegionGrid:
    """The pixel grid of the orthophoto: a square of ``size_m`` at ``gsd_m`` in ``crs``."""

    size_m: float
    gsd_m: float
    crs: str = CRS
    west: float = ORIGIN_EAST_M
    south: float = ORIGIN_SOUTH_M

    @property
    def width(self) -> int:
        """Columns (and rows) of the orthophoto."""
        return int(math.floor(self.size_m / self.gsd_m + 0.5))

    @property
    def height(self) -> int:
        """Rows of the orthophoto."""
        return self.width

    @property
    def east(self) -> float:
        """Eastern edge (CRS metres)."""
        return self.west + self.width * self.gsd_m

    @property
    def north(self) -> float:
        """Northern edge (CRS metres)."""
        return self.south + self.height * self.gsd_m

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in the CRS."""
        return (self.west, self.south, self.east, self.north)

    @property
    def transform(self) -> Affine:
        """Pixel-to-CRS affine transform (north up)."""
        return Affine(self.gsd_m, 0.0, self.west, 0.0, -self.gsd_m, self.north)
