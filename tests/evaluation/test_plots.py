"""Confusion-matrix plot."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from rsvl.evaluation.plots import plot_confusion_matrix


def test_png_is_written(tmp_path: Path) -> None:
    path = plot_confusion_matrix([[2, 0], [1, 1]], ["pond", "river"], tmp_path / "c.png", "t")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 300
