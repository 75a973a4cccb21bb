"""Confusion-matrix and similarity heat-map plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rsvl.data.atomic import atomic_open

if TYPE_CHECKING:
    import numpy as np


def plot_confusion_matrix(
    confusion: Sequence[Sequence[int]], classnames: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Write a row-normalised confusion matrix as a PNG; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    counts = np.asarray(confusion, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = max(4.0, 0.35 * len(classnames) + 2)
    figure, axes = plt.subplots(figsize=(side, side))
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(classnames))
    axes.set_xticks(ticks, classnames, rotation=90, fontsize=7)
    axes.set_yticks(ticks, classnames, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return Path(path)


def plot_similarity_map(images: Sequence[np.ndarray], similarities: Sequence[np.ndarray],
                        truths: Sequence[np.ndarray], path: str | Path, title: str = "") -> Path:
    """Write chips above their text-similarity heat maps, the query's true pixels outlined.

    Args:
        images: ``H x W x 3`` uint8 chips.
        similarities: Per chip, the ``H x W`` cosine similarity of each pixel (upsampled patch)
            to the query; one colour scale for all.
        truths: Per chip, the ``H x W`` boolean mask of the pixels the query names.
        path: PNG to write.
        title: Figure title (the query).

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    count = len(images)
    low = min(float(np.min(s)) for s in similarities)
    high = max(float(np.max(s)) for s in similarities)
    figure, axes = plt.subplots(2, count, figsize=(2.4 * count + 1, 5.2), squeeze=False)
    for column, (image, similarity, truth) in enumerate(zip(images, similarities, truths,
                                                            strict=True)):
        axes[0, column].imshow(image)
        heat = axes[1, column].imshow(similarity, cmap="inferno", vmin=low, vmax=high)
        for row in (0, 1):
            if truth.any() and not truth.all():
                axes[row, column].contour(truth.astype(float), levels=[0.5], colors="cyan",
                                          linewidths=1)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
        axes[0, column].set_title(f"{truth.mean():.0%} of the chip", fontsize=8)
    axes[0, 0].set_ylabel("held-out chip", fontsize=8)
    axes[1, 0].set_ylabel("cosine similarity", fontsize=8)
    figure.colorbar(heat, ax=list(axes[1]), fraction=0.03)
    figure.suptitle(f"{title}\n(cyan: the class's true pixels in classes.tif)", fontsize=9)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return Path(path)
