"""One pixel limit for every image rsvl decodes: decompression bombs are refused unread.

A few-kilobyte PNG or JPEG may declare 100,000 x 100,000 pixels (30 GB once decoded).
:func:`open_image` opens an image lazily (PIL reads the header only), compares the declared
size with :func:`max_image_pixels` and refuses it with one line, before any pixel is decoded.
The limit is ``DEFAULT_MAX_IMAGE_PIXELS`` (100 million pixels, e.g. 10,000 x 10,000: 300 MB
as RGB) unless the environment variable ``RSVL_MAX_IMAGE_PIXELS`` sets another; it also
replaces PIL's own ``Image.MAX_IMAGE_PIXELS`` (PIL's warning above it, error above twice it)
for any other PIL open in the process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from PIL import Image

from rsvl.errors import ConfigError, InputError

DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
PIXEL_LIMIT_ENV = "RSVL_MAX_IMAGE_PIXELS"


class ImageTooLarge(InputError):
    """An image declares more pixels than the limit (a decompression bomb or a huge image)."""


def max_image_pixels() -> int:
    """The largest number of pixels (width x height) rsvl decodes in one image."""
    value = os.environ.get(PIXEL_LIMIT_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        limit = int(value.replace("_", ""))
    except ValueError:
        limit = 0
    if limit <= 0:
        raise ConfigError(f"{PIXEL_LIMIT_ENV}={value!r} is not a positive whole number of pixels")
    return limit


def check_pixels(width: int, height: int, name: str) -> None:
    """Raise :class:`ImageTooLarge` when ``width x height`` is over the limit."""
    limit = max_image_pixels()
    if width * height > limit:
        raise ImageTooLarge(
            f"{name}: {width} x {height} = {width * height:,} pixels is over the limit of "
            f"{limit:,} pixels per image (a decompression bomb or a huge image); if you trust "
            f"it, raise the limit: {PIXEL_LIMIT_ENV}={width * height}")


def open_image(source: str | Path | IO[bytes], name: str | Path | None = None) -> Image.Image:
    """``PIL.Image.open`` that refuses an image over the pixel limit before decoding it.

    Args:
        source: A path or a binary file object (e.g. ``io.BytesIO(data)``).
        name: What to call the image in the error (default: the path).

    Returns:
        The opened, not yet decoded, image (use it as a context manager or call ``load``).

    Raises:
        ImageTooLarge: the header declares more than :func:`max_image_pixels` pixels.
        PIL's own errors (``UnidentifiedImageError``, ``OSError``...) for unreadable files.
    """
    limit = max_image_pixels()
    # rsvl checks the declared size itself (below) so that the error names the file and the
    # limit; PIL's check, set to the same limit, guards PIL opens elsewhere in the process.
    Image.MAX_IMAGE_PIXELS = None
    try:
        image = Image.open(source)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    try:
        check_pixels(*image.size, str(name if name is not None else source))
    except ImageTooLarge:
        image.close()
        raise
    return image
