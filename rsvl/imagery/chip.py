"""The chip: an 8-bit RGB window read from imagery, with its validity mask and provenance."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from rsvl.errors import ConfigError

Bounds = tuple[float, float, float, float]

# PIL's encoder names for the formats a chip can be written in.
_PIL_FORMATS = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP"}


@dataclass
class Chip:
    """An RGB chip read from an :class:`~rsvl.imagery.base.Imagery`.

    Attributes:
        rgb: ``H x W x 3`` uint8 pixels; black where ``valid`` is False.
        valid: ``H x W`` bool: False where the source has nodata, alpha 0, no tile, or no
            coverage (outside the imagery).
        bounds: ``(minx, miny, maxx, maxy)`` of the chip in ``crs``.
        crs: CRS of ``bounds`` (``EPSG:32633``).
        gsd_m: Ground size of one chip pixel in metres at the chip's centre (the mean of
            its width and height on the ground), not the source's native gsd.
        stretch: The rule that mapped >8-bit source values to 8-bit (``None`` for 8-bit data),
            to be recorded in the manifest.
    """

    rgb: np.ndarray
    valid: np.ndarray
    bounds: Bounds
    crs: str
    gsd_m: float
    stretch: dict[str, Any] | None = field(default=None)

    @property
    def valid_fraction(self) -> float:
        """Fraction of pixels with valid data, from 0.0 to 1.0."""
        return float(self.valid.mean()) if self.valid.size else 0.0

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels, as PIL reports it."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    def to_pil(self) -> Image.Image:
        """The RGB pixels as a PIL image (invalid pixels are black)."""
        return Image.fromarray(self.rgb, mode="RGB")

    def encode(self, format: str = "jpeg", quality: int = 90) -> bytes:
        """Encode the chip as image bytes.

        Args:
            format: ``jpeg``, ``png`` or ``webp``.
            quality: JPEG/WebP quality (ignored for PNG).

        Returns:
            The encoded image.
        """
        pil_format = _PIL_FORMATS.get(format.lower())
        if pil_format is None:
            raise ConfigError(f"unknown chip format {format!r}; use one of {sorted(_PIL_FORMATS)}")
        buffer = io.BytesIO()
        options = {} if pil_format == "PNG" else {"quality": quality}
        self.to_pil().save(buffer, format=pil_format, **options)
        return buffer.getvalue()
