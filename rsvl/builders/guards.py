"""Guards of the builds against real-world inputs: unreadable chips and unbounded plans.

* A chip whose pixels cannot be read (a corrupt tile, a truncated GeoTIFF block, a remote read
  that kept failing: :class:`rsvl.imagery.base.UnreadableImagery`) is skipped and counted under
  the reader's reason (``unreadable_tile``, ``unreadable_window``, ``remote_read_failed``) like
  any other rejection; with ``strict`` the build stops at the first, with its one-line message.
* A worldwide source (a tile server without ``bounds`` covers the whole Web-Mercator world) or
  one too large to plan is planned only where the OSM features are: the grid of partitions (and
  of VQA chips) is clipped to their extent, on the same grid lines as the whole source's, so the
  cells kept are the cells the whole plan would have had. A plan still larger than
  :data:`MAX_PARTITIONS` partitions (or :data:`MAX_GRID_CHIPS` VQA chips) is refused with one
  line naming the fix, instead of exhausting memory or looking like a hang.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

from rsvl.builders.chips import ChipRejected
from rsvl.errors import ConfigError
from rsvl.imagery.base import Imagery, UnreadableImagery
from rsvl.imagery.chip import Bounds, Chip
from rsvl.imagery.geo import WGS84, intersection, transform_bounds

logger = logging.getLogger(__name__)

# Partitions one build may plan. A partition is 4096 native pixels square by default, so this
# is a 4,000 km square at 1 m, or a large country at 0.3 m (France is ~700,000 at zoom 19): any
# one build, while the whole world at zoom 17 (67 million) or beyond is refused. A million
# partitions take seconds and a few hundred MB to plan.
MAX_PARTITIONS = 1_000_000
# Grid chips one VQA build may plan (each is checked and asked questions).
MAX_GRID_CHIPS = 1_000_000
# A source spanning at least this much longitude is worldwide: plan only where the OSM is.
WORLDWIDE_LON_SPAN = 180.0
# Reasons already logged by this process: one warning per reason, not one per chip.
_warned: set[str] = set()


def read_chip(imagery: Imagery, bounds: Bounds, size: int, bands: Sequence[int] | None,
              strict: bool) -> Chip:
    """Read a chip; an unreadable one becomes a rejection unless ``strict``.

    Args:
        imagery: The reader.
        bounds: The chip footprint in the imagery CRS.
        size: Chip side in pixels.
        bands: 1-based source bands for RGB (``None``: the reader's default).
        strict: Stop the build at the first unreadable chip instead of skipping it.

    Raises:
        ChipRejected: The chip cannot be read (its reason is the reader's), unless ``strict``.
        UnreadableImagery: The chip cannot be read and ``strict`` is set.
    """
    try:
        return imagery.read(bounds, size, bands=bands)
    except UnreadableImagery as error:
        if strict:
            raise type(error)(f"{error} (--strict: without it the chip is skipped and "
                              "counted)", error.reason) from None
        if error.reason not in _warned:
            _warned.add(error.reason)
            logger.warning("skipping unreadable chips (counted as %s in the manifest), the "
                           "first: %s", error.reason, error)
        raise ChipRejected(error.reason) from None


def grid_cells(area: Bounds, side: float) -> int:
    """How many cells :func:`rsvl.builders.partitions.plan_partitions` cuts ``area`` into."""
    minx, miny, maxx, maxy = area
    return max(1, math.ceil((maxx - minx) / side)) * max(1, math.ceil((maxy - miny) / side))


def is_worldwide(imagery: Imagery) -> bool:
    """Whether the imagery spans half the globe or more in longitude (a bare tile server)."""
    west, _, east, _ = transform_bounds(imagery.bounds, imagery.crs, WGS84)
    return east - west >= WORLDWIDE_LON_SPAN


def _snap(area: Bounds, grid: Bounds, side: float) -> Bounds:
    """``area`` grown to the lines of the grid of ``side`` anchored at ``grid``'s lower left."""
    x0, y0 = grid[0], grid[1]
    return (x0 + math.floor((area[0] - x0) / side) * side,
            y0 + math.floor((area[1] - y0) / side) * side,
            min(grid[2], x0 + math.ceil((area[2] - x0) / side) * side),
            min(grid[3], y0 + math.ceil((area[3] - y0) / side) * side))


def planning_area(imagery: Imagery, side: float, extent: Callable[[], Bounds | None],
                  what: str = "partitions", limit: int = MAX_PARTITIONS) -> Bounds:
    """The area a build cuts into cells of ``side``: the imagery, or where its features are.

    Args:
        imagery: The build's imagery.
        side: Cell side in imagery CRS units (a partition, or a VQA chip).
        extent: Returns the bounds of the build's OSM features in the imagery CRS (called only
            for a worldwide source or an oversized plan; ``None`` when unknown).
        what: What the cells are, for the refusal (``partitions``, ``VQA chips``).
        limit: The most cells allowed.

    Returns:
        ``imagery.bounds``, or for a worldwide source or a plan of more than ``limit`` cells,
        its part within ``extent()`` grown to whole cells of the imagery's grid.

    Raises:
        ConfigError: The plan still has more than ``limit`` cells.
    """
    area = imagery.bounds
    if is_worldwide(imagery) or grid_cells(area, side) > limit:
        features = extent()
        # Padded: one point feature has an extent of zero width.
        pad = side * 1e-3
        clipped = None if features is None else intersection(area, (
            features[0] - pad, features[1] - pad, features[2] + pad, features[3] + pad))
        if clipped is not None:
            area = _snap(clipped, imagery.bounds, side)
    cells = grid_cells(area, side)
    if cells > limit:
        west, south, east, north = transform_bounds(area, imagery.crs, WGS84)
        raise ConfigError(
            f"{imagery.source}: the build would plan {cells:,} {what} over lon {west:.4f}.."
            f"{east:.4f}, lat {south:.4f}..{north:.4f} (limit {limit:,}); pass --imagery-option "
            "bounds=[WEST,SOUTH,EAST,NORTH] (degrees) for the area to build, or a smaller OSM "
            "extract")
    return area
