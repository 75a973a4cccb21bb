"""GeoTIFF / COG / VRT (anything GDAL opens) read as windowed, overview-aware RGB chips."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window, from_bounds

from rsvl.errors import InputError
from rsvl.imagery.base import Imagery
from rsvl.imagery.chip import Bounds, Chip
from rsvl.imagery.geo import crs_string, ground_sample_distance
from rsvl.imagery.stretch import (
    DEFAULT_PERCENTILES,
    apply_rule,
    fixed_rule,
    percentile_rule,
    rule_for_bands,
)

# Longest side of the decimated read that percentile stretches are computed from.
_STRETCH_SAMPLE_SIZE = 1024


def _open_dataset(source: str) -> Any:
    try:
        dataset = rasterio.open(source)
    except RasterioError as exc:
        missing = "://" not in source and not source.startswith("/vsi") and not Path(
            source).exists()
        reason = "does not exist" if missing else f"cannot be opened as a raster ({exc})"
        raise InputError(f"{source}: {reason}") from None
    if dataset.crs is None:
        dataset.close()
        raise InputError(f"{source} has no CRS; assign one with gdal_edit.py -a_srs EPSG:XXXX "
                         f"{source}")
    # Rotated or sheared rasters are read through a north-up warped view of themselves, with
    # an alpha band (band count + 1) marking the corners the rotation leaves empty.
    if dataset.transform.is_rectilinear:
        return dataset
    return WarpedVRT(dataset, add_alpha=ColorInterp.alpha not in dataset.colorinterp)


class RasterImagery(Imagery):
    """A raster file (GeoTIFF, COG, VRT, ``/vsicurl/`` URL...) read through rasterio.

    Reads fetch only the requested window at the overview level GDAL picks for the output
    size, with the dataset mask (nodata, alpha band or internal mask) as ``valid``.

    Args:
        source: Path or GDAL dataset name.
        licence: Licence of the imagery.
        stretch: ``"percentile"`` (default: per-band percentiles of a decimated read of the
            whole dataset, used only for data that is not 8-bit) or a fixed ``(min, max)``
            range applied to every band whatever its type.
        percentiles: Low and high percentiles for the ``percentile`` stretch.
    """

    def __init__(self, source: str | Path, licence: str = "unknown",
                 stretch: str | Sequence[float] = "percentile",
                 percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> None:
        super().__init__(source, licence)
        dataset = self._dataset()
        self.crs = crs_string(dataset.crs)
        self.bounds = tuple(float(v) for v in dataset.bounds)  # type: ignore[assignment]
        self.band_count = dataset.count
        self.gsd_m = ground_sample_distance(self.crs, self.bounds, dataset.width, dataset.height)
        self._colour_bands = [i + 1 for i, interp in enumerate(dataset.colorinterp)
                              if interp != ColorInterp.alpha] or [1]
        # Reading masks costs a second read; skip it where every pixel is valid by definition,
        # and read one band's mask where all bands share the dataset's mask (alpha, mask band).
        flags = dataset.mask_flag_enums
        self._all_valid = all(f == [MaskFlags.all_valid] for f in flags)
        self._shared_mask = all(MaskFlags.per_dataset in f for f in flags)
        self._floating = any(np.dtype(t).kind == "f" for t in dataset.dtypes)
        self.stretch_rule = self._stretch_rule(stretch, percentiles)

    def _dataset(self) -> Any:
        if self._handle is None:
            self._handle = _open_dataset(self.source)
        return self._handle

    def _stretch_rule(self, stretch: str | Sequence[float],
                      percentiles: Sequence[float]) -> dict[str, Any] | None:
        if not isinstance(stretch, str):
            return fixed_rule(stretch, self.band_count)
        if stretch != "percentile":
            raise InputError(f"unknown stretch {stretch!r} for {self.name}; use 'percentile' "
                             "or a (min, max) range")
        dataset = self._dataset()
        if all(t == "uint8" for t in dataset.dtypes):
            return None
        scale = _STRETCH_SAMPLE_SIZE / max(dataset.width, dataset.height)
        shape = (max(1, round(dataset.height * min(scale, 1.0))),
                 max(1, round(dataset.width * min(scale, 1.0))))
        pixels = self._guarded(dataset.read, out_shape=(dataset.count, *shape),
                               resampling=Resampling.nearest).astype(np.float64)
        valid = self._guarded(dataset.dataset_mask, out_shape=shape) > 0
        return percentile_rule(pixels, valid, percentiles)

    def _guarded(self, method: Any, **kwargs: Any) -> np.ndarray:
        """Call a rasterio read method, turning GDAL read failures into one-line errors."""
        try:
            return method(**kwargs)
        except RasterioError as exc:
            # rasterio chains GDAL's own message ("TIFFReadEncodedTile() failed") as the cause.
            reason = str(exc.__cause__ or exc).strip().splitlines()[0]
            raise InputError(f"{self.source}: cannot read pixels ({reason}); the file may be "
                             "truncated or corrupt: re-download or re-export it") from None

    def read(self, bounds: Bounds, size: int | tuple[int, int],
             bands: Sequence[int] | None = None, resampling: str = "bilinear") -> Chip:
        """Read a chip; see :meth:`Imagery.read`."""
        width, height = self._check_request(bounds, size, resampling)
        chosen = self._select_bands(bands, self._colour_bands)
        dataset = self._dataset()
        window = from_bounds(*bounds, transform=dataset.transform)
        cols = _inside(window.col_off, window.width / width, width, dataset.width)
        rows = _inside(window.row_off, window.height / height, height, dataset.height)
        rgb = np.zeros((height, width, 3), dtype=np.uint8)
        valid = np.zeros((height, width), dtype=bool)
        if cols is not None and rows is not None:
            (c0, c1, src_c0, src_c1), (r0, r1, src_r0, src_r1) = cols, rows
            src = Window(src_c0, src_r0, src_c1 - src_c0, src_r1 - src_r0)
            out_shape = (3, r1 - r0, c1 - c0)
            pixels = self._guarded(dataset.read, indexes=list(chosen), window=src,
                                   out_shape=out_shape, resampling=Resampling[resampling])
            inside = np.ones(out_shape[1:], dtype=bool)
            if not self._all_valid:
                mask_bands = list(chosen[:1] if self._shared_mask else chosen)
                masks = self._guarded(dataset.read_masks, indexes=mask_bands, window=src,
                                      out_shape=(len(mask_bands), *out_shape[1:]),
                                      resampling=Resampling.nearest)
                inside = masks.min(axis=0) > 0
            if self._floating:
                inside &= np.isfinite(pixels).all(axis=0)
            if self.stretch_rule is not None:
                pixels = apply_rule(pixels, self.stretch_rule, chosen)
            rgb[r0:r1, c0:c1] = np.moveaxis(pixels.astype(np.uint8, copy=False), 0, -1)
            valid[r0:r1, c0:c1] = inside
            if not inside.all():
                rgb[~valid] = 0
        return Chip(rgb=rgb, valid=valid, bounds=tuple(bounds),  # type: ignore[arg-type]
                    crs=self.crs, gsd_m=ground_sample_distance(self.crs, bounds, width, height),
                    stretch=None if self.stretch_rule is None
                    else rule_for_bands(self.stretch_rule, chosen))


def _inside(offset: float, step: float, count: int,
            extent: int) -> tuple[int, int, float, float] | None:
    """Output pixels whose centres fall inside the source, and the source span they cover.

    Args:
        offset: Source pixel coordinate of the chip's first edge.
        step: Source pixels per chip pixel.
        count: Chip pixels along this axis.
        extent: Source pixels along this axis.

    Returns:
        ``(first, stop, source_start, source_stop)`` or ``None`` when no chip pixel is inside.
    """
    first = max(0, math.ceil((0 - offset) / step - 0.5))
    stop = min(count, math.floor((extent - offset) / step - 0.5) + 1)
    if stop <= first:
        return None
    start = min(max(offset + first * step, 0.0), float(extent))
    end = min(max(offset + stop * step, 0.0), float(extent))
    return first, stop, start, end
