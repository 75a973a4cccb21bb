"""Image and text features of a loaded model, batched; image features cached on disk.

The cache key is (checkpoint sha256, preprocessing config, the image files' paths and
content), so zero-shot, retrieval, linear probe and k-NN on the same images compute
image features once. Unreadable images are skipped and reported (or raise with ``strict``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from rsvl.data.atomic import atomic_open
from rsvl.data.images import open_image
from rsvl.errors import InputError
from rsvl.evaluation.datasets import files_fingerprint
from rsvl.models import LoadedModel, encode_images

CACHE_VERSION = 1


@dataclass(frozen=True)
class FeatureOptions:
    """How image features are computed.

    Attributes:
        batch_size: Images per forward pass.
        num_workers: DataLoader worker processes decoding images.
        cache_dir: Folder of the feature cache (``<cache_dir>/features/<key>.safetensors``);
            None disables caching.
        strict: Raise on the first unreadable image instead of skipping and counting it.
    """

    batch_size: int = 64
    num_workers: int = 0
    cache_dir: str | Path | None = None
    strict: bool = False


@dataclass
class ImageFeatures:
    """L2-normalised image features of the readable images.

    Attributes:
        features: ``[len(kept), dim]`` float32, on CPU.
        kept: Indices (into the input paths) of the images that decoded.
        skipped: ``path: reason`` for each unreadable image.
    """

    features: torch.Tensor
    kept: list[int]
    skipped: list[str]


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image file (JPEG, PNG, TIFF...) to RGB with PIL."""
    with open_image(path) as image:
        return image.convert("RGB")


class ImageFiles(torch.utils.data.Dataset):
    """Image files -> (tensor, ok); an unreadable file yields zeros and ``ok=False``."""

    def __init__(self, paths: Sequence[Path], transform: Any, image_size: tuple[int, int]):
        self.paths = list(paths)
        self.transform = transform
        self.blank = torch.zeros(3, *image_size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, bool, str]:
        try:
            return self.transform(load_rgb(self.paths[index])), True, ""
        except Exception as error:  # PIL raises OSError, ValueError, SyntaxError, bomb errors...
            return self.blank, False, f"{type(error).__name__}: {error}".splitlines()[0]


def _image_size(loaded: LoadedModel) -> tuple[int, int]:
    size = loaded.preprocess_cfg.get("size", 224)
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def cache_key(loaded: LoadedModel, paths: Sequence[Path]) -> str:
    """sha256 of the checkpoint hash, preprocessing config and the files' path/size/mtime."""
    digest = hashlib.sha256()
    header = {"v": CACHE_VERSION, "model": loaded.checksum, "preprocess": loaded.preprocess_cfg}
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    return files_fingerprint(paths, digest)


def _read_cache(path: Path) -> ImageFeatures | None:
    if not path.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        skipped = json.loads((handle.metadata() or {}).get("skipped", "[]"))
    tensors = load_safetensors(path.read_bytes())
    return ImageFeatures(tensors["features"], tensors["kept"].tolist(), skipped)


def _write_cache(path: Path, result: ImageFeatures) -> None:
    tensors = {"features": result.features.contiguous(),
               "kept": torch.tensor(result.kept, dtype=torch.int64)}
    payload = save_safetensors(tensors, metadata={"skipped": json.dumps(result.skipped)})
    with atomic_open(path, "wb") as handle:
        handle.write(payload)


def _encode_images(loaded: LoadedModel, paths: Sequence[Path], batch_size: int,
                   num_workers: int) -> ImageFeatures:
    files = ImageFiles(paths, loaded.preprocess, _image_size(loaded))
    # Workers decode and transform; the unreadable images drop out before the model.
    loader = torch.utils.data.DataLoader(files, batch_size=batch_size, num_workers=num_workers)
    kept: list[int] = []
    skipped: list[str] = []

    def readable() -> Iterator[torch.Tensor]:
        start = 0
        for images, ok, reasons in loader:
            for offset, (good, reason) in enumerate(zip(ok.tolist(), reasons, strict=True)):
                if good:
                    kept.append(start + offset)
                    yield images[offset]
                else:
                    skipped.append(f"{paths[start + offset]}: {reason}")
            start += len(ok)

    features = encode_images(loaded, readable(), batch_size)
    return ImageFeatures(features, kept, skipped)


def image_features(
    loaded: LoadedModel, paths: Sequence[Path], options: FeatureOptions | None = None
) -> ImageFeatures:
    """Encode images with the model's validation transform, L2-normalised.

    Args:
        loaded: The model (from :func:`rsvl.models.load_clip`).
        paths: Image files.
        options: Batch size, workers, cache folder and strictness.
    """
    options = options or FeatureOptions()
    cache = (Path(options.cache_dir) / "features" / f"{cache_key(loaded, paths)}.safetensors"
             if options.cache_dir else None)
    result = _read_cache(cache) if cache else None
    if result is None:
        result = _encode_images(loaded, paths, options.batch_size, options.num_workers)
        if cache:
            _write_cache(cache, result)
    if options.strict and result.skipped:
        raise InputError(f"unreadable image {result.skipped[0]} ({len(result.skipped)} in all); "
                         "fix or remove it, or run without --strict to skip and count them")
    if not result.kept:
        raise InputError(f"none of the {len(paths)} images could be read, e.g. {result.skipped[0]}")
    return result


def text_features(
    loaded: LoadedModel, texts: Sequence[str], *, batch_size: int = 256, normalize: bool = True
) -> torch.Tensor:
    """Encode texts with the model's tokenizer; ``[len(texts), dim]`` float32 on CPU."""
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            tokens = loaded.tokenizer(list(texts[start : start + batch_size])).to(loaded.device)
            encoded = loaded.model.encode_text(tokens).float()
            chunks.append((F.normalize(encoded, dim=-1) if normalize else encoded).cpu())
    return torch.cat(chunks)
