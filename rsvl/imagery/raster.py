"""GeoTIFF / COG / VRT (anything GDAL opens) read as windowed, overview-aware RGB chips.

Remote sources (``/vsicurl/``, ``/vsis3/``, ``/vsigs/``, ``/vsiaz/`` paths, ``http(s)://`` and
``s3://`` URLs) are read with retries at two levels: GDAL retries each HTTP request on 429 and
5xx (``GDAL_HTTP_MAX_RETRY``, ``GDAL_HTTP_RETRY_DELAY``), and an open or a window read that
still fails for a reason known to pass (an HTTP 429/5xx that GDAL reported, a timeout, a reset
connection: GDAL does not retry dropped connections) is retried with backoff
(:mod:`rsvl.imagery.remote`) before it raises :class:`rsvl.errors.RemoteReadError`. Any other
GDAL error fails at once: a missing object, denied access or an unreadable file on opening, as
an :class:`rsvl.errors.InputError`. Variables already set in the environment win over these
defaults.

A window that cannot be read (a truncated or corrupt block, a remote read that kept failing)
raises :class:`rsvl.imagery.base.UnreadableImagery`, which builds skip and count.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window, from_bounds

from rsvl.errors import InputError, RemoteReadError
from rsvl.imagery.base import (
    UNREADABLE_WINDOW,
    Imagery,
    UnreadableImagery,
    UnreadableRemoteImagery,
)
from rsvl.imagery.chip import Bounds, Chip
from rsvl.imagery.geo import crs_string, ground_sample_distance
from rsvl.imagery.remote import (
    MISSING_STATUS,
    TRANSIENT_STATUS,
    USER_AGENT,
    Retryable,
    RetryPolicy,
    is_transient_message,
    with_retries,
)
from rsvl.imagery.stretch import (
    DEFAULT_PERCENTILES,
    apply_rule,
    fixed_rule,
    percentile_rule,
    rule_for_bands,
)

T = TypeVar("T")

# Longest side of the decimated read that percentile stretches are computed from.
_STRETCH_SAMPLE_SIZE = 1024
# GDAL dataset names read over the network (nested ones such as /vsizip//vsicurl/ included).
_REMOTE = re.compile(r"^(https?|s3|gs|az)://|^(/vsi\w+/\{?)*/vsi(curl|s3|gs|az|adls|oss|swift|"
                     r"webhdfs)(_streaming)?/")
# "HTTP response code: 404" (final errors), "HTTP error code: 503 - URL" (GDAL's warnings).
_HTTP_STATUS = re.compile(r"HTTP (?:response |error )?code *: *(\d{3})")
_RASTERIO_LOG = logging.getLogger("rasterio")
# GDAL's words for an object that is not there, and for missing or refused credentials.
_MISSING_WORDS = ("does not exist in the file system", "No such file or directory")
_DENIED_WORDS = ("credentials", "configuration options not defined", "Access Denied",
                 "AccessDenied", "Forbidden")
_NOT_RASTER_WORDS = ("not recognized as", "not a supported file format")


def is_remote(source: str) -> bool:
    """Whether GDAL reads ``source`` over the network (``/vsicurl/``, ``/vsis3/``, URLs)."""
    return _REMOTE.search(source) is not None


def _gdal_reason(exc: RasterioError) -> str:
    # rasterio chains GDAL's own message ("TIFFReadEncodedTile() failed") as the cause.
    return str(exc.__cause__ or exc).strip().splitlines()[0]


def _gdal_network_options(policy: RetryPolicy) -> dict[str, str]:
    """GDAL config for remote reads; variables already in the environment win."""
    options = {
        "GDAL_HTTP_MAX_RETRY": str(policy.retries),
        "GDAL_HTTP_RETRY_DELAY": str(policy.backoff_s),
        "GDAL_HTTP_USERAGENT": USER_AGENT,
        # Opening a URL would otherwise list its "folder" looking for sidecar files: one or
        # more extra requests per open, and a slow listing on big buckets.
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    }
    return {key: value for key, value in options.items() if key not in os.environ}


class _HttpStatuses(logging.Handler):
    """The HTTP statuses and network failures GDAL reports while a call runs (as warnings).

    GDAL's final error often hides them ("Cannot read 228813 bytes", "not recognized as a
    supported file format" after a 503), so the retry decision reads them from the log.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.codes: list[int] = []
        self.network: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        found = _HTTP_STATUS.search(message)
        if found:
            self.codes.append(int(found[1]))
        if is_transient_message(message):
            self.network = message.strip().splitlines()[0]


def _remote_call(call: Callable[[], T], source: str, policy: RetryPolicy, what: str) -> T:
    """Run a GDAL open or read of a remote ``source`` with retries (module docstring).

    Args:
        call: The open or read.
        source: The dataset name, for messages.
        policy: Retries of failures known to be transient.
        what: ``opening`` or ``reading``: a read's other failures are
            :class:`UnreadableImagery` (the build skips the window), an open's are fatal.
    """

    def attempt() -> T:
        statuses = _HttpStatuses()
        _RASTERIO_LOG.addHandler(statuses)
        try:
            with rasterio.Env(**_gdal_network_options(policy)):
                return call()
        except RasterioError as exc:
            reason = _gdal_reason(exc)
        finally:
            _RASTERIO_LOG.removeHandler(statuses)
        status = _HTTP_STATUS.search(reason)
        code = int(status[1]) if status else None
        transient = [c for c in statuses.codes if c in TRANSIENT_STATUS]
        if code is not None and code in TRANSIENT_STATUS:
            transient.append(code)
        if transient:
            raise Retryable(f"HTTP {transient[-1]}")
        if code in MISSING_STATUS or any(word in reason for word in _MISSING_WORDS):
            raise InputError(f"{source} does not exist (HTTP {code or 404}); check the URL or "
                             "the object's key")
        if code in (401, 403) or any(word in reason for word in _DENIED_WORDS):
            raise InputError(f"{source}: access denied ({reason}); set the credentials GDAL "
                             "reads (AWS_*, GS_*, AZURE_* variables) or make the object public")
        if is_transient_message(reason) or statuses.network is not None:
            raise Retryable(f"GDAL: {reason if is_transient_message(reason) else statuses.network}")
        if what == "reading":
            raise UnreadableImagery(f"{source}: cannot read pixels ({reason})", UNREADABLE_WINDOW)
        if any(word in reason for word in _NOT_RASTER_WORDS):
            raise InputError(f"{source}: cannot be opened as a raster ({reason})")
        raise InputError(f"{source}: cannot be opened ({reason}); GDAL's error is not one "
                         "that passes when retried")

    return with_retries(attempt, policy, f"{what} {source}")


def _open_dataset(source: str, policy: RetryPolicy | None) -> Any:
    if policy is not None:
        dataset = _remote_call(lambda: rasterio.open(source), source, policy, "opening")
    else:
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
        retries: For remote sources: retries of each HTTP request (by GDAL), and of an open
            or read that still fails.
        backoff_s: For remote sources: delay before the first retry (doubles after each).
    """

    def __init__(self, source: str | Path, licence: str = "unknown",
                 stretch: str | Sequence[float] = "percentile",
                 percentiles: Sequence[float] = DEFAULT_PERCENTILES, retries: int = 4,
                 backoff_s: float = 0.5) -> None:
        super().__init__(source, licence)
        # Local files take the direct path: no retry wrapper, no GDAL environment per read.
        self._policy = (RetryPolicy(retries=int(retries), backoff_s=float(backoff_s))
                        if is_remote(self.source) else None)
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
        handle = self._own_handle()
        return handle if handle is not None else self._keep_handle(
            _open_dataset(self.source, self._policy))

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
        if self._policy is not None:
            try:
                return _remote_call(lambda: method(**kwargs), self.source, self._policy,
                                    "reading")
            except RemoteReadError as exc:  # retries exhausted: this window is skipped
                raise UnreadableRemoteImagery(str(exc)) from None
        try:
            return method(**kwargs)
        except RasterioError as exc:
            reason = _gdal_reason(exc)
            raise UnreadableImagery(f"{self.source}: cannot read pixels ({reason}); the file may "
                                    "be truncated or corrupt: re-download or re-export it",
                                    UNREADABLE_WINDOW) from None

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
