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


def plot_similarity_map(image: np.ndarray, similarity: np.ndarray, truth: np.ndarray | None,
                        path: str | Path, title: str = "") -> Path:
    """Write a chip, its text-similarity heat map and (optionally) the query's true pixels.

    Args:
        image: ``H x W x 3`` uint8 chip.
        similarity: ``H x W`` cosine similarity of each pixel (upsampled patch) to the query.
        truth: ``H x W`` boolean mask of the pixels the query names, or None.
        path: PNG to write.
        title: Figure title (the query).

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if truth is not None else 2
    figure, axes = plt.subplots(1, panels, figsize=(3.2 * panels, 3.4))
    axes[0].imshow(image)
    axes[0].set_title("held-out chip", fontsize=9)
    axes[1].imshow(image)
    heat = axes[1].imshow(similarity, cmap="inferno", alpha=0.6)
    axes[1].set_title("cosine similarity to the query", fontsize=9)
    figure.colorbar(heat, ax=axes[1], fraction=0.046)
    if truth is not None:
        axes[2].imshow(truth, cmap="gray", vmin=0, vmax=1)
        axes[2].set_title("true pixels (class raster)", fontsize=9)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return Path(path)
