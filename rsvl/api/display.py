"""Show search results: an image grid with scores (matplotlib) and a map of footprints (folium)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from rsvl.api.images import GeoWindow, to_pil
from rsvl.data.images import open_image
from rsvl.data.shards import read_member
from rsvl.errors import InputError


def result_image(row: pd.Series, size: int = 256, crs: Any = None) -> Image.Image:
    """The image behind one result row: a file, a shard member, or an imagery window.

    Args:
        row: A row of :meth:`rsvl.api.ImageIndex.search` results (or of the index metadata).
        size: Side of windows read from imagery, in pixels.
        crs: CRS of the row's footprint when it may differ from the imagery's (an embedding
            GeoParquet stores footprints in EPSG:4326); None: the imagery's own CRS.
    """
    if _present(row, "member"):
        return _shard_member(Path(row["path"]), str(row["member"]))
    if _present(row, "imagery"):
        bands = tuple(int(b) for b in row["bands"]) if _present(row, "bands") else None
        bounds = tuple(row["geometry"].bounds)
        if crs is not None:
            bounds = _imagery_bounds(str(row["imagery"]), row["geometry"], str(crs))
        return GeoWindow(row["imagery"], bounds, bands, size).read().to_pil()
    if _present(row, "path"):
        return to_pil(Path(row["path"]))
    raise InputError(f"result {row.get('key', '?')} names no image file; it was indexed from "
                     "images in memory, which the index does not keep")


def show_grid(results: pd.DataFrame, columns: int = 5, tile_inches: float = 2.5,
              label: str = "key") -> Any:
    """Plot results as a grid of images titled with rank, score and ``label``.

    Args:
        results: Rows from :meth:`rsvl.api.ImageIndex.search`.
        columns: Images per row.
        tile_inches: Size of each image in the figure.
        label: Column shown under the score.

    Returns:
        The matplotlib figure (``fig.savefig("grid.png")`` writes it).
    """
    import matplotlib.pyplot as plt

    if results.empty:
        raise InputError("no results to show: the search returned no rows")
    columns = max(1, min(columns, len(results)))
    rows = math.ceil(len(results) / columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False,
                                figsize=(columns * tile_inches, rows * (tile_inches + 0.4)))
    for axis in axes.flat:
        axis.axis("off")
    for axis, (_, row) in zip(axes.flat, results.iterrows(), strict=False):
        axis.imshow(result_image(row, crs=getattr(results, "crs", None)))
        caption = f"#{row.get('rank', '')} {row['score']:.3f}" if "score" in row else ""
        axis.set_title(f"{caption}\n{str(row.get(label, ''))[:28]}", fontsize=8)
    figure.tight_layout()
    return figure


def show_map(results: pd.DataFrame, **explore_options: Any) -> Any:
    """Footprints of results on an interactive map coloured by score (``GeoDataFrame.explore``).

    Args:
        results: Rows from :meth:`rsvl.api.ImageIndex.search` that carry footprints.
        **explore_options: Passed to :meth:`geopandas.GeoDataFrame.explore`.

    Returns:
        A ``folium.Map`` (displayed by notebooks; ``.save("map.html")`` writes it).
    """
    import geopandas as gpd

    if not isinstance(results, gpd.GeoDataFrame) or results.crs is None:
        raise InputError("these results have no footprints to map; index imagery "
                         "(ImageIndex.from_raster) or records with footprints")
    shown = results.drop(columns=[c for c in ("bands",) if c in results])
    options = {"column": "score", "cmap": "viridis", "tooltip": ["rank", "score", "key"]}
    return shown.explore(**{**options, **explore_options})


def _present(row: pd.Series, column: str) -> bool:
    if column not in row.index:
        return False
    value = row[column]
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _imagery_bounds(path: str, footprint: Any, crs: str) -> tuple[float, ...]:
    """A footprint's bounds in the CRS of the imagery it was cut from."""
    from rsvl.imagery import open_imagery
    from rsvl.imagery.geo import footprint_to_crs

    with open_imagery(path) as imagery:
        target = imagery.crs
    return tuple(footprint_to_crs(footprint, crs, target).bounds)


def _shard_member(shard: Path, member: str) -> Image.Image:
    data = read_member(shard, member)
    try:
        return to_pil(open_image(io.BytesIO(data), f"{shard}: member {member}"))
    except OSError as error:
        raise InputError(f"{shard}: member {member} is not a readable image ({error}); the shard "
                         "changed since the index was built, rebuild the index") from None
