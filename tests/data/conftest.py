"""Generated inputs for the data tests: small synthetic aerial-looking scenes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image


def make_scene(seed: int, size: int = 96) -> Image.Image:
    """A smooth random colour field with fine noise: distinct seeds give distinct scenes."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC))
    noisy = field.astype(int) + rng.integers(-20, 21, (size, size, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


@pytest.fixture(scope="session")
def scene() -> Callable[..., Image.Image]:
    """:func:`make_scene`, as a fixture."""
    return make_scene
