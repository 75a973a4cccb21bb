"""The ``Imagery`` interface every reader implements, and the checks they share."""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsvl.errors import InputError, RemoteReadError
from rsvl.imagery.chip import Bounds, Chip
from rsvl.imagery.geo import intersection

RESAMPLING_METHODS = ("nearest", "bilinear", "cubic", "lanczos", "average")
# Why one read failed while the rest of the imagery may be fine (builders count them by name).
UNREADABLE_TILE = "unreadable_tile"
UNREADABLE_WINDOW = "unreadable_window"
REMOTE_READ_FAILED = "remote_read_failed"


class UnreadableImagery(InputError):
    """One tile or window of otherwise readable imagery cannot be read.

    A corrupt tile file, a truncated GeoTIFF block, a remote read that kept failing: the
    reader raises this from :meth:`Imagery.read` so that a build can skip the chip and count
    it under :attr:`reason` (``--strict`` stops instead, with this one-line message).

    Args:
        message: One line naming the file or tile and what went wrong.
        reason: ``unreadable_tile``, ``unreadable_window`` or ``remote_read_failed``.
    """

    def __init__(self, message: str, reason: str = UNREADABLE_WINDOW) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled to and from worker processes (Dask): keep the reason.
        return type(self), (str(self), self.reason)


class UnreadableRemoteImagery(UnreadableImagery, RemoteReadError):
    """A remote read that failed after its retries: skipped by builds, retried by schedulers."""

    def __init__(self, message: str, reason: str = REMOTE_READ_FAILED) -> None:
        super().__init__(message, reason)


class Imagery(abc.ABC):
    """A georeferenced image source that reads RGB chips by bounds.

    Readers keep only the source path and options when pickled and reopen their file handle
    lazily, so an instance can be sent to worker processes. Use as a context manager (or call
    :meth:`close`) to release the handle.

    Attributes:
        source: Path (or GDAL path such as ``/vsicurl/...``) the imagery was opened from.
        name: Short name of the source (file or folder name).
        crs: CRS of ``bounds`` and of the bounds that :meth:`read` takes (``EPSG:32633``).
        bounds: ``(minx, miny, maxx, maxy)`` of the imagery in ``crs``.
        gsd_m: Native ground sample distance in metres at the imagery's centre.
        licence: Licence of the imagery, as given by the user (``unknown`` by default).
        band_count: Number of bands (alpha included).
    """

    source: str
    name: str
    crs: str
    bounds: Bounds
    gsd_m: float
    licence: str
    band_count: int
    # The open file handle (GDAL dataset, sqlite connection); never pickled.
    _handle: Any = None
    # The process that opened ``_handle`` (see :meth:`_own_handle`).
    _handle_pid: int | None = None
    # Attributes that hold handles or caches: dropped when pickled, rebuilt lazily.
    _unpicklable: tuple[str, ...] = ("_handle", "_handle_pid")

    def __init__(self, source: str | Path, licence: str = "unknown") -> None:
        self.source = str(source)
        self.name = Path(self.source.rstrip("/")).name
        self.licence = licence

    @abc.abstractmethod
    def read(self, bounds: Bounds, size: int | tuple[int, int],
             bands: Sequence[int] | None = None, resampling: str = "bilinear") -> Chip:
        """Read a chip covering ``bounds`` at ``size`` pixels.

        Args:
            bounds: ``(minx, miny, maxx, maxy)`` in :attr:`crs`; reproject with
                :func:`rsvl.imagery.geo.transform_bounds` first when needed.
            size: Chip size in pixels: ``n`` for ``n x n`` or ``(width, height)``.
            bands: 1-based source bands for red, green and blue (one band is replicated to
                grey); default: the first three colour bands.
            resampling: One of ``nearest``, ``bilinear``, ``cubic``, ``lanczos``, ``average``.

        Returns:
            The chip; pixels outside the imagery are marked invalid, not an error.

        Raises:
            InputError: ``bounds`` do not intersect the imagery or ``size`` is not positive.
        """

    def close(self) -> None:
        """Release the open file handle; the reader reopens it on the next read."""
        if self._own_handle() is not None:
            self._handle.close()
        self._handle = None

    def _own_handle(self) -> Any:
        """The open handle if this process opened it, else ``None`` (reopen it).

        A forked worker inherits its parent's readers with their handles; a GDAL dataset's
        file offset (and a sqlite connection) is then shared by every child, so concurrent
        reads in two workers would read each other's bytes. The child abandons the inherited
        handle, without closing what its parent still uses, and opens its own.
        """
        if self._handle is not None and self._handle_pid != os.getpid():
            self._handle = None
        return self._handle

    def _keep_handle(self, handle: Any) -> Any:
        """Remember ``handle`` as this process's open handle and return it."""
        self._handle, self._handle_pid = handle, os.getpid()
        return handle

    def __enter__(self) -> Imagery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.source!r}, crs={self.crs!r}, "
                f"gsd_m={self.gsd_m:.3g})")

    def _check_request(self, bounds: Bounds, size: int | tuple[int, int],
                       resampling: str) -> tuple[int, int]:
        """Validate a read request; return ``(width, height)``."""
        width, height = (size, size) if isinstance(size, int) else tuple(size)
        if int(width) <= 0 or int(height) <= 0:
            raise InputError(f"chip size must be positive, got {size!r} for {self.name}")
        if resampling not in RESAMPLING_METHODS:
            raise InputError(f"unknown resampling {resampling!r}; use one of "
                             f"{', '.join(RESAMPLING_METHODS)}")
        minx, miny, maxx, maxy = bounds
        if not (minx < maxx and miny < maxy) or intersection(bounds, self.bounds) is None:
            raise InputError(
                f"requested bounds {tuple(bounds)} do not intersect {self.name} "
                f"(bounds {self.bounds} in {self.crs}); reproject them to {self.crs} "
                "with rsvl.imagery.geo.transform_bounds or pick a footprint inside the imagery")
        return int(width), int(height)

    def _select_bands(self, bands: Sequence[int] | None,
                      colour_bands: Sequence[int]) -> tuple[int, int, int]:
        """Resolve ``bands`` (1-based) to three source bands for red, green and blue."""
        if bands is None:
            bands = colour_bands[:3] if len(colour_bands) >= 3 else colour_bands[:1]
        chosen = tuple(int(b) for b in bands)
        if len(chosen) not in (1, 3) or not all(1 <= b <= self.band_count for b in chosen):
            raise InputError(f"bands {tuple(bands)!r} invalid for {self.name}: give one or three "
                             f"1-based band numbers between 1 and {self.band_count}")
        return chosen * 3 if len(chosen) == 1 else chosen  # type: ignore[return-value]

    def __getstate__(self) -> dict[str, Any]:
        # Open handles (GDAL datasets, sqlite connections) do not pickle; readers reopen lazily.
        return {k: v for k, v in self.__dict__.items() if k not in self._unpicklable}
