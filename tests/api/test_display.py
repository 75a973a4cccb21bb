"""Result grids and maps, and the image behind each kind of result row."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest

from rsvl.api import ImageIndex, RsvlModel, result_image, show_grid, show_map
from rsvl.data.records import Record
from rsvl.data.shards import ShardWriter
from rsvl.errors import InputError

matplotlib.use("Agg")


def test_grid_and_map_of_raster_results(micro_model: RsvlModel, geotiff16: Path,
                                        tmp_path: Path) -> None:
    index = ImageIndex.from_raster(micro_model, geotiff16, chip_size_m=320, bands=(3, 2, 1),
                                   progress=False)
    results = index.search("a field", k=3)
    figure = show_grid(results, columns=2)
    assert len([a for a in figure.axes if a.images]) == 3
    figure.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 1000
    chip = np.asarray(result_image(results.iloc[0], size=16))
    assert chip.shape == (16, 16, 3)
    web_map = show_map(results)
    web_map.save(str(tmp_path / "map.html"))
    assert "r000" in (tmp_path / "map.html").read_text()


def test_shard_and_file_rows(micro_model: RsvlModel, image_folder: Path, tmp_path: Path) -> None:
    record = Record(key="s0", image="s0.png", captions=["x"], split="test", source="u",
                    licence="CC0")
    with ShardWriter(tmp_path / "shards") as writer:
        writer.write(record, (image_folder / "b.png").read_bytes(), "png")
    shards = ImageIndex.from_records(micro_model, tmp_path / "shards", progress=False)
    row = shards.search("x", k=1).iloc[0]
    assert np.asarray(result_image(row)).shape == (24, 30, 3)
    files = ImageIndex.from_folder(micro_model, image_folder, progress=False)
    results = files.search("x", k=2)
    assert result_image(results.iloc[0]).size == (30, 24)
    with pytest.raises(InputError, match="no footprints to map"):
        show_map(results)


def test_rows_without_images(micro_model: RsvlModel) -> None:
    index = ImageIndex.from_images(micro_model, [np.zeros((8, 8, 3), np.uint8)], progress=False)
    with pytest.raises(InputError, match="names no image file"):
        show_grid(index.search("x", k=1))
    with pytest.raises(InputError, match="no results to show"):
        show_grid(index.search("x", k=1).iloc[:0])
