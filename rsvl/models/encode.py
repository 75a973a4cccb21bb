"""The batched image-embedding loop every consumer shares (evaluation, the API, dedup).

:func:`encode_images` takes PIL images (turned into tensors with the model's validation
transform) or tensors that are already transformed, stacks them ``batch_size`` at a time and
returns their L2-normalised embeddings as one float32 CPU tensor, in input order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F

from rsvl.errors import ConfigError
from rsvl.models.loading import LoadedModel


def encode_pixels(loaded: LoadedModel, pixels: torch.Tensor) -> torch.Tensor:
    """Embed one stacked batch of transformed images: ``[N, dim]`` float32 on CPU, L2-normalised
    (after the cast, so reduced-precision models normalise in float32)."""
    with torch.inference_mode():
        features = loaded.model.encode_image(pixels.to(loaded.device))
    return F.normalize(features.float(), dim=-1).cpu()


def encode_images(loaded: LoadedModel, images: Iterable[Any], batch_size: int = 64, *,
                  progress: bool = False, total: int | None = None) -> torch.Tensor:
    """Embed images, streaming them through the model ``batch_size`` at a time.

    Args:
        loaded: The model (from :func:`rsvl.models.load_clip`).
        images: PIL images (RGB; transformed here with ``loaded.preprocess``) or transformed
            ``[3, H, W]`` tensors, in any mix.
        batch_size: Images per forward pass.
        progress: Show a tqdm progress bar.
        total: How many images to expect (for the progress bar), when known.

    Returns:
        ``[N, dim]`` float32 on CPU, L2-normalised; ``[0, 0]`` when ``images`` is empty.

    Raises:
        ConfigError: ``batch_size`` is below 1.
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    chunks: list[torch.Tensor] = []
    batch: list[torch.Tensor] = []
    with tqdm(total=total, disable=not progress, unit="img", desc="embedding") as bar:
        for image in images:
            batch.append(image if isinstance(image, torch.Tensor) else loaded.preprocess(image))
            if len(batch) == batch_size:
                chunks.append(encode_pixels(loaded, torch.stack(batch)))
                bar.update(len(batch))
                batch = []
        if batch:
            chunks.append(encode_pixels(loaded, torch.stack(batch)))
            bar.update(len(batch))
        # Sources that skip items (unreadable files, chips without data) finish short.
        bar.total = bar.n
    return torch.cat(chunks) if chunks else torch.zeros(0, 0)
