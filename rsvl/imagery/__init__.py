"""Imagery readers: GeoTIFF/COG/VRT, XYZ/TMS tile folders and MBTiles, read as RGB chips.

    >>> from rsvl.imagery import open_imagery
    >>> with open_imagery("ortho.tif", licence="CC-BY-4.0") as imagery:
    ...     chip = imagery.read(imagery.bounds, size=224)
"""

from rsvl.imagery.base import Imagery
from rsvl.imagery.chip import Chip
from rsvl.imagery.geo import footprint_to_crs, ground_sample_distance, transform_bounds
from rsvl.imagery.registry import get_reader, list_readers, open_imagery, reader_for

__all__ = ["Chip", "Imagery", "footprint_to_crs", "get_reader", "ground_sample_distance",
           "list_readers", "open_imagery", "reader_for", "transform_bounds"]
