"""Confusion-matrix plot (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rsvl.data.atomic import atomic_open


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
