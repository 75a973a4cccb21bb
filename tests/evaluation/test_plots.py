"""Confusion-matrix and similarity heat-map plots."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from rsvl.evaluation.plots import plot_confusion_matrix, plot_similarity_map


def test_png_is_written(tmp_path: Path) -> None:
    path = plot_confusion_matrix([[2, 0], [1, 1]], ["pond", "river"], tmp_path / "c.png", "t")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 300


def test_similarity_map_png_has_a_column_per_chip(tmp_path: Path) -> None:
    import numpy as np

    image = np.zeros((16, 16, 3), dtype=np.uint8)
    similarity = np.linspace(-1, 1, 256).reshape(16, 16)
    path = plot_similarity_map([image] * 3, [similarity] * 3, [similarity > 0] * 3,
                               tmp_path / "s.png", "farmland")
    alone = plot_similarity_map([image], [similarity], [similarity > 2], tmp_path / "t.png")
    with Image.open(path) as three, Image.open(alone) as one:
        assert three.format == "PNG" and three.width > one.width
