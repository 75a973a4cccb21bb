"""``rsvl search build|query`` on a folder and a GeoTIFF; outputs and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.cli import main


def _geotiff(path: Path) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    data = np.random.default_rng(0).integers(0, 255, (3, 48, 48), dtype=np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=48, height=48, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=from_origin(500000, 4500000, 5, 5)) as f:
        f.write(data)
    return path


def test_build_and_query_raster(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    raster = _geotiff(tmp_path / "ortho.tif")
    assert main(["search", "build", "--model", "rsvl-micro", "--from", str(raster), "--out",
                 str(tmp_path / "ortho.index"), "--chip-size-m", "80", "--device", "cpu"]) == 0
    assert "indexed 9 images" in capsys.readouterr().out
    assert main(["search", "query", str(tmp_path / "ortho.index"), "a lake", "-k", "3",
                 "--grid", str(tmp_path / "new" / "grid.png"), "--map",
                 str(tmp_path / "map.html"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["rank"] for r in rows] == [1, 2, 3] and rows[0]["imagery"] == str(raster)
    # The grid's folder did not exist: it is made.
    assert (tmp_path / "new" / "grid.png").is_file() and (tmp_path / "map.html").is_file()


def test_build_folder_and_query_by_image(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "imgs").mkdir()
    for i in range(4):
        Image.fromarray(np.full((10, 10, 3), 60 * i, np.uint8)).save(tmp_path / f"imgs/{i}.jpg")
    assert main(["search", "build", "--model", "rsvl-micro", "--from", str(tmp_path / "imgs"),
                 "--out", str(tmp_path / "idx"), "--dtype", "float16"]) == 0
    capsys.readouterr()
    assert main(["search", "query", str(tmp_path / "idx"), "--image",
                 str(tmp_path / "imgs/2.jpg"), "-k", "1"]) == 0
    assert capsys.readouterr().out.split("\t")[2] == "2.jpg"


@pytest.mark.parametrize("argv, expected", [
    (["search", "query", "{tmp}", "text"], "not an rsvl image index"),
    (["search", "query", "{tmp}"], "either a text query or --image"),
    (["search", "build", "--model", "rsvl-micro", "--from", "{tmp}/nothing", "--out", "{tmp}/o"],
     "not found"),
    (["search", "build", "--model", "rsvl-micro", "--from", "{tmp}", "--out", "{tmp}/o",
      "--bands", "red"], "--bands must be"),
])
def test_errors_are_one_line(tmp_path: Path, argv: list[str], expected: str,
                             capsys: pytest.CaptureFixture) -> None:
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    error = capsys.readouterr().err.strip()
    assert expected in error and "\n" not in error
