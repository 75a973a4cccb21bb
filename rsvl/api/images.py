"""Turn whatever a user holds into RGB PIL images: PIL, paths, arrays, tensors, GeoTIFF windows.

One coercion serves every entry point (``encode_images``, ``classify``, ``ImageIndex``), so a
path, a ``numpy`` array and a GeoTIFF window behave the same everywhere. Pixels that are not
8-bit (16-bit imagery, reflectances, floats outside ``[0, 1]``) are mapped to 8-bit by the same
percentile stretch the imagery readers use (:mod:`rsvl.imagery.stretch`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from rsvl.data.images import open_image
from rsvl.errors import InputError
from rsvl.imagery.chip import Bounds, Chip
from rsvl.imagery.stretch import apply_rule, percentile_rule

# Suffixes decoded with PIL; .tif/.tiff go through rsvl.imagery when the file has a CRS.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")
GEOTIFF_SUFFIXES = (".tif", ".tiff")
# Side, in pixels, of a GeoTIFF window read without an explicit size; models resize anyway.
DEFAULT_WINDOW_PX = 256
_CHANNEL_COUNTS = (1, 3, 4)


@dataclass(frozen=True)
class GeoWindow:
    """A window of georeferenced imagery (GeoTIFF/COG/VRT, tile folder, MBTiles) as an image.

    Attributes:
        path: The imagery (anything :func:`rsvl.imagery.open_imagery` opens).
        bounds: ``(minx, miny, maxx, maxy)`` in the imagery's CRS; None for the whole extent.
        bands: 1-based source bands for red, green and blue (e.g. ``(4, 3, 2)`` for
            Sentinel-2 true colour); one band gives grey; None for the first three colour bands.
        size: Longest side of the chip read, in pixels (the aspect ratio is kept).
        stretch: ``"percentile"`` (2-98 % per band, only for data that is not 8-bit) or a
            fixed ``(min, max)`` range mapped to 0-255, e.g. ``(0, 3000)`` for reflectances.
    """

    path: str | Path
    bounds: Bounds | None = None
    bands: tuple[int, ...] | None = None
    size: int = DEFAULT_WINDOW_PX
    stretch: str | tuple[float, float] = "percentile"

    def read(self) -> Chip:
        """Read the window as an 8-bit RGB chip."""
        from rsvl.imagery import open_imagery

        options: dict[str, Any] = {}
        if self.stretch != "percentile":
            options["stretch"] = self.stretch
        with open_imagery(self.path, **options) as imagery:
            bounds = self.bounds or imagery.bounds
            width, height = bounds[2] - bounds[0], bounds[3] - bounds[1]
            scale = self.size / max(width, height)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            return imagery.read(bounds, size, bands=self.bands)


# Torch tensors are accepted too; typed as Any so numpy-only callers never import torch.
ImageInput = Image.Image | str | Path | np.ndarray | GeoWindow | Chip | Any


def to_pil(image: ImageInput) -> Image.Image:
    """Coerce one image to an RGB PIL image.

    Args:
        image: A PIL image; a path (JPEG, PNG, TIFF; GeoTIFFs are read through
            :mod:`rsvl.imagery`); an ``H x W``, ``H x W x C`` or ``C x H x W`` numpy array or
            torch tensor with 1, 3 or 4 channels (uint8 as is, floats in ``[0, 1]`` scaled,
            anything else stretched); a :class:`GeoWindow`; or an imagery :class:`Chip`.

    Returns:
        An RGB image.

    Raises:
        InputError: The input is of an unsupported type, missing, unreadable or misshapen.
    """
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image)
    if isinstance(image, str | Path):
        return _open_path(Path(image))
    if isinstance(image, GeoWindow):
        return image.read().to_pil()
    if isinstance(image, Chip):
        return image.to_pil()
    if isinstance(image, np.ndarray):
        return array_to_pil(image, channels_first=False)
    if _is_tensor(image):
        return array_to_pil(image.detach().cpu().numpy(), channels_first=True)
    raise InputError(
        f"unsupported image input of type {type(image).__name__}: pass a PIL image, a path, "
        "a numpy array, a torch tensor or an rsvl.api.GeoWindow"
    )


def iter_images(images: Any) -> Iterator[ImageInput]:
    """The single images in ``images``: one image, a sequence of them, or a 4-D batch.

    A 4-D array or tensor is a batch (``N x H x W x C`` for numpy, ``N x C x H x W`` for torch).
    A string is one path, never a sequence of characters.
    """
    if isinstance(images, str | Path):
        if Path(images).is_dir():
            raise InputError(
                f"{images} is a folder; list its images or use ImageIndex.from_folder(model, "
                f"{str(images)!r})"
            )
        yield images
    elif (isinstance(images, np.ndarray) or _is_tensor(images)) and images.ndim == 4:
        yield from images
    elif isinstance(images, Sequence) and not isinstance(images, np.ndarray):
        if not images:
            raise InputError("no images given: pass at least one image")
        yield from images
    else:
        yield images


def describe(image: ImageInput, position: int) -> str:
    """A short name for an image in tables and errors (its path, or its position)."""
    if isinstance(image, str | Path):
        return str(image)
    if isinstance(image, GeoWindow):
        return f"{image.path}{list(image.bounds) if image.bounds else ''}"
    return f"image[{position}]"


def array_to_pil(array: np.ndarray, channels_first: bool) -> Image.Image:
    """An RGB image from a 2-D or 3-D array (see :func:`to_pil` for the rules)."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise InputError(
            f"image array has shape {array.shape}; expected H x W, H x W x C or C x H x W "
            "(a 4-D array is a batch: pass it to encode_images)"
        )
    array = _channels_last(array, channels_first)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise InputError(f"image array has dtype {array.dtype}; expected uint8, integer or float")
    pixels = _to_uint8(array)
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(pixels[:, :, :3]), mode="RGB")


def _channels_last(array: np.ndarray, channels_first: bool) -> np.ndarray:
    first, last = array.shape[0] in _CHANNEL_COUNTS, array.shape[2] in _CHANNEL_COUNTS
    if channels_first and first or not last and first:
        return np.moveaxis(array, 0, -1)
    if last:
        return array
    raise InputError(
        f"image array of shape {array.shape} has no 1, 3 or 4 channel axis; for multispectral "
        "data select three bands first, e.g. array[..., [3, 2, 1]]"
    )


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """8-bit pixels: uint8 kept, floats in [0, 1] scaled, anything else stretched per band."""
    if array.dtype == np.uint8:
        return array
    values = array.astype(np.float32)
    finite = np.isfinite(values)
    if np.issubdtype(array.dtype, np.floating) and finite.all():
        if values.min() >= 0.0 and values.max() <= 1.0:
            return (values * 255.0).round().astype(np.uint8)
    bands = np.moveaxis(values, -1, 0)
    rule = percentile_rule(bands, np.asarray(finite.all(axis=-1)))
    return np.moveaxis(apply_rule(bands, rule, range(1, bands.shape[0] + 1)), 0, -1)


def _pil_to_rgb(image: Image.Image) -> Image.Image:
    # 16-bit and float modes ("I;16", "I", "F") cannot be converted to RGB by PIL faithfully.
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return array_to_pil(np.asarray(image), channels_first=False)
    return image if image.mode == "RGB" else image.convert("RGB")


def _open_path(path: Path) -> Image.Image:
    if not path.exists():
        raise InputError(f"image not found: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an image; pass the image files inside it")
    if path.suffix.lower() in GEOTIFF_SUFFIXES and _has_crs(path):
        return GeoWindow(path).read().to_pil()
    try:
        with open_image(path) as image:
            image.load()
            return _pil_to_rgb(image)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise InputError(
            f"{path}: not a readable image ({type(error).__name__}: {error}); expected "
            f"one of {', '.join(IMAGE_SUFFIXES)} or a GeoTIFF"
        ) from None


def _has_crs(path: Path) -> bool:
    """Whether a TIFF is georeferenced (then it may be multispectral or 16-bit)."""
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as dataset:
                return dataset.crs is not None
    except RasterioError:
        return False


def _is_tensor(value: Any) -> bool:
    # Checked by module name so that numpy-only callers never import torch here.
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")
