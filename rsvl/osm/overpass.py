"""Overpass sources (``overpass:bbox=W,S,E,N`` or ``overpass:place=Name``) through osmnx.

The downloaded frame is normalised by the same code as file exports (``tables.normalise_table``),
so offline tests of that path on ``osmnx.features_from_xml`` output cover it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

import geopandas as gpd

from rsvl.errors import ConfigError
from rsvl.osm.tables import normalise_table

OVERPASS_PREFIX = "overpass:"


@dataclass(frozen=True)
class OverpassQuery:
    """A parsed ``overpass:`` source.

    Attributes:
        bbox: ``(west, south, east, north)`` in lon/lat, or None for a place query.
        place: A place name osmnx geocodes, or None for a bbox query.
        keys: Tag keys to download (any value).
    """

    bbox: tuple[float, float, float, float] | None
    place: str | None
    keys: tuple[str, ...]


def parse_overpass(source: str, default_keys: tuple[str, ...]) -> OverpassQuery:
    """Parse ``overpass:bbox=W,S,E,N[&keys=k1,k2]`` or ``overpass:place=Name[&keys=...]``.

    Raises:
        ConfigError: The source is neither form.
    """
    fields = dict(parse_qsl(source[len(OVERPASS_PREFIX) :], keep_blank_values=True))
    keys = tuple(filter(None, fields.get("keys", "").split(","))) or default_keys
    example = "overpass:bbox=24.93,60.16,24.95,60.17 or overpass:place=Sintra, Portugal"
    if "bbox" in fields:
        try:
            west, south, east, north = (float(part) for part in fields["bbox"].split(","))
        except ValueError as error:
            raise ConfigError(
                f"{source!r}: bbox must be four numbers W,S,E,N ({example})"
            ) from error
        return OverpassQuery((west, south, east, north), None, keys)
    if fields.get("place"):
        return OverpassQuery(None, fields["place"], keys)
    raise ConfigError(f"{source!r} is not an Overpass source; write {example}")


def download_overpass(query: OverpassQuery) -> gpd.GeoDataFrame:
    """Download features through osmnx (needs the internet) and normalise them."""
    import osmnx

    tags: dict[str, bool | str | list[str]] = {key: True for key in query.keys}
    if query.bbox is not None:
        table = osmnx.features_from_bbox(query.bbox, tags=tags)
        source = f"Overpass bbox {query.bbox}"
    else:
        table = osmnx.features_from_place(str(query.place), tags=tags)
        source = f"Overpass place {query.place!r}"
    return normalise_table(table, source)
