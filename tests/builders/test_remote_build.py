"""A caption build whose imagery is a tile server (loopback HTTP) equals the tile-folder build."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rsvl.builders.captions import CaptionBuildConfig, build_captions
from rsvl.cli import main
from rsvl.imagery import open_imagery
from rsvl.imagery.geo import transform_bounds
from rsvl.synth import generate_region

LOOPBACK = Path(__file__).resolve().parents[1] / "imagery" / "loopback.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A 400 m synthetic region with its XYZ pyramid."""
    return generate_region(tmp_path_factory.mktemp("region"), seed=1, size_m=400.0, tiles=True)


@pytest.fixture(scope="module")
def server(region: Any) -> Iterator[Any]:
    spec = importlib.util.spec_from_file_location("loopback", LOOPBACK)
    assert spec is not None and spec.loader is not None
    loopback = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loopback)
    with loopback.serve(region.out_dir) as running:
        yield running


def test_tile_server_build_equals_tile_folder_build(region: Any, server: Any,
                                                    tmp_path: Path) -> None:
    local = open_imagery(region.tiles_dir)
    west, south, east, north = transform_bounds(local.bounds, local.crs, "EPSG:4326")
    bounds = [west + 1e-9, south + 1e-9, east - 1e-9, north - 1e-9]  # the folder's tiles
    expected = build_captions(CaptionBuildConfig(osm=str(region.osm_path),
                                                 imagery=str(region.tiles_dir),
                                                 out=str(tmp_path / "local")))
    assert len(expected.records) > 3
    server.configure(fail_first=1, fail_status=503, retry_after=None, hidden=[])
    template = server.url + "/tiles/{z}/{x}/{y}.png"
    options = [f"max_zoom={local.zooms[-1]}", f"min_zoom={local.zooms[0]}",
               f"bounds={json.dumps(bounds)}", "backoff_s=0.001", f"cache={tmp_path / 'cache'}"]

    def build(out: str, *extra: str) -> None:
        command = ["build", "captions", "--osm", str(region.osm_path), "--imagery", template,
                   "--out", str(tmp_path / out), *extra]
        assert main(command + [arg for option in options
                               for arg in ("--imagery-option", option)]) == 0
        shards = sorted(p.relative_to(tmp_path / "local")
                        for p in (tmp_path / "local").glob("shards/*"))
        assert shards
        for name in ("records.jsonl", *shards):
            assert (tmp_path / out / name).read_bytes() == (tmp_path / "local" / name
                                                            ).read_bytes()

    build("remote")
    assert set(server.gets().values()) == {2}  # every tile: one 503, then fetched once
    manifest = json.loads((tmp_path / "remote" / "manifest.json").read_text())
    assert manifest["inputs"]["imagery"] == {"path": template, "sha256": None}
    assert manifest["config"]["imagery_options"]["max_zoom"] == local.zooms[-1]
    # Dask workers get the pickled reader and read the shared cache: the server is not asked.
    server.configure(fail_first=10_000)
    build("dask", "--scheduler", "local:2")
    assert sum(server.gets().values()) == 0


def test_vqa_build_reads_a_tile_server_too(region: Any, server: Any, tmp_path: Path) -> None:
    local = open_imagery(region.tiles_dir)
    west, south, east, north = transform_bounds(local.bounds, local.crs, "EPSG:4326")
    bounds = [west + 1e-9, south + 1e-9, east - 1e-9, north - 1e-9]  # the folder's tiles
    server.configure(fail_first=0, fail_status=503, retry_after=None, hidden=[])
    template = server.url + "/tiles/{z}/{x}/{y}.png"
    common = ["--osm", str(region.osm_path), "--name", "T", "--chip-size", "64",
              "--split-fractions", "0.5", "0", "0.5"]
    assert main(["build", "vqa", *common, "--imagery", str(region.tiles_dir),
                 "--out", str(tmp_path / "local")]) == 0
    assert main(["build", "vqa", *common, "--imagery", template, "--out", str(tmp_path / "remote"),
                 "--imagery-option", f"max_zoom={local.zooms[-1]}",
                 "--imagery-option", f"min_zoom={local.zooms[0]}",
                 "--imagery-option", f"bounds={json.dumps(bounds)}"]) == 0
    # The RSVQA files and images; the manifest and resume state name each build's imagery.
    files = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*")
                   if p.is_file() and p.name != "manifest.json" and ".partitions" not in p.parts)
    assert any("questions" in p.name for p in files) and any(p.suffix == ".png" for p in files)
    for name in files:
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name
                                                             ).read_bytes()
    assert sum(server.gets().values()) > 0
