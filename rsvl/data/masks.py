"""Binary and label masks as PNG: the region masks of records and the segmentation mask sets.

A region's mask travels in JSON as base64 of a 1-bit PNG the size of its chip (a few hundred
bytes for a house); label masks of a segmentation set are 8-bit PNG files whose value
:data:`IGNORE_PNG` marks unlabelled pixels.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from rsvl.data.atomic import atomic_open
from rsvl.errors import InputError

IGNORE_PNG = 255  # label-mask PNG value of unlabelled pixels
MAX_LABELS = IGNORE_PNG  # class values 0..254
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_mask(mask: np.ndarray) -> str:
    """Base64 of a 1-bit greyscale PNG holding ``mask`` (``H x W``, truthy = inside).

    Written directly (packed rows, filter type 0, deflate level 9): a caption build encodes
    tens of masks per chip, and PIL's encoder costs ~3x as much per mask for the same pixels.
    """
    bits = np.packbits(np.asarray(mask, dtype=bool), axis=1)
    height, width = np.shape(mask)
    rows = np.concatenate([np.zeros((height, 1), np.uint8), bits], axis=1)  # filter byte 0
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    png = (PNG_SIGNATURE + _png_chunk(b"IHDR", header)
           + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + _png_chunk(b"IEND", b""))
    return base64.b64encode(png).decode("ascii")


def decode_mask(text: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The ``H x W`` bool mask of :func:`encode_mask`'s text.

    Raises:
        InputError: The text is not a PNG, or not of ``shape`` when it is given.
    """
    try:
        with Image.open(io.BytesIO(base64.b64decode(text, validate=True))) as image:
            mask = np.asarray(image.convert("1"), dtype=bool)
    except (ValueError, OSError) as error:
        raise InputError(f"unreadable region mask ({error})") from None
    if shape is not None and mask.shape != tuple(shape):
        raise InputError(f"region mask is {mask.shape[1]}x{mask.shape[0]} px, its chip "
                         f"{shape[1]}x{shape[0]}")
    return mask


def write_label_png(path: str | Path, labels: np.ndarray) -> None:
    """Write an ``H x W`` label mask (values ``0..254``, :data:`IGNORE_PNG` unlabelled)."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() > IGNORE_PNG):
        raise ValueError(f"label values must lie in 0..{IGNORE_PNG}")
    with atomic_open(Path(path), "wb") as handle:
        Image.fromarray(labels.astype(np.uint8), mode="L").save(handle, format="PNG")


def read_label_png(path: str | Path) -> np.ndarray:
    """The label mask of :func:`write_label_png` as ``H x W`` uint8.

    Raises:
        InputError: The file is missing or not an image.
    """
    try:
        with Image.open(path) as image:
            return np.asarray(image, dtype=np.uint8)
    except OSError as error:
        raise InputError(f"{path}: unreadable label mask ({error})") from None


def region_mask(region: dict[str, Any], shape: tuple[int, ...]) -> np.ndarray:
    """The full-chip bool mask of one region-text pair (its ``mask`` covers its pixel ``box``
    ``[x0, y0, x1, y1]``, end exclusive).

    Raises:
        InputError: The mask does not match its box or the box leaves the chip.
    """
    x0, y0, x1, y1 = (int(v) for v in region["box"])
    if not (0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0]):
        raise InputError(f"region {region.get('osm_id')}: box {region['box']} outside its "
                         f"{shape[1]}x{shape[0]} chip")
    full = np.zeros(shape, dtype=bool)
    full[y0:y1, x0:x1] = decode_mask(region["mask"], (y1 - y0, x1 - x0))
    return full
