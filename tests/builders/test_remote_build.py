"""A caption build whose imagery is a tile server (loopback HTTP) equals the tile-folder build."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import time
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
                        for p in (tmp_path / "local").glob("shards/**/*") if p.is_file())
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


@pytest.fixture(scope="module")
def world(region: Any) -> str:
    """The region's tiles served as a worldwide server: a tile at the world's centre too.

    Without ``bounds`` a tile server covers the Web-Mercator world and opens by sampling its
    centre tile; everything else but the region answers 404 (invalid pixels).
    """
    folder = region.out_dir / "world"
    shutil.copytree(region.tiles_dir, folder)
    zoom = max(int(p.name) for p in folder.iterdir())
    centre = folder / str(zoom) / str(1 << (zoom - 1)) / f"{1 << (zoom - 1)}.png"
    centre.parent.mkdir(parents=True)
    centre.write_bytes(next(folder.glob(f"{zoom}/*/*.png")).read_bytes())
    return f"/world/{{z}}/{{x}}/{{y}}.png?max_zoom={zoom}"


def test_unbounded_tile_server_is_planned_where_the_osm_is(region: Any, server: Any, world: str,
                                                           tmp_path: Path) -> None:
    server.configure(fail_first=0, fail_status=503, retry_after=None, hidden=[])
    path, _, zoom = world.partition("?max_zoom=")
    template = server.url + path
    started = time.perf_counter()
    assert main(["build", "captions", "--osm", str(region.osm_path), "--imagery", template,
                 "--out", str(tmp_path / "captions"), "--imagery-option", f"max_zoom={zoom}",
                 "--imagery-option", "backoff_s=0.001"]) == 0
    # Planned over the region's features, not the world: a handful of partitions.
    partitions = {p.name for p in (tmp_path / "captions" / ".partitions").rglob("p*.jsonl")}
    assert 0 < len(partitions) <= 4
    assert json.loads((tmp_path / "captions" / "manifest.json").read_text())["counts"]["chips"]
    assert main(["build", "vqa", "--osm", str(region.osm_path), "--imagery", template,
                 "--out", str(tmp_path / "vqa"), "--name", "T", "--chip-size", "64",
                 "--imagery-option", f"max_zoom={zoom}"]) == 0
    images = json.loads((tmp_path / "vqa" / "T_split_train_images.json").read_text())["images"]
    assert images and max(image["id"] for image in images) < 10_000  # ids of the clipped grid
    assert time.perf_counter() - started < 60


def test_plan_over_a_worldwide_osm_extent_is_refused(region: Any, server: Any, world: str,
                                                     tmp_path: Path, capsys: Any) -> None:
    # Two buildings 120 degrees apart: at zoom 17 that is ~4.7 million partitions.
    osm = tmp_path / "far.geojson"
    osm.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"building": "yes"},
         "geometry": {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 1e-4, lat],
                                                          [lon + 1e-4, lat + 1e-4],
                                                          [lon, lat + 1e-4], [lon, lat]]]}}
        for lon, lat in ((0.0, 0.0), (120.0, 60.0))]}))
    path, _, zoom = world.partition("?max_zoom=")
    started = time.perf_counter()
    for job in ("captions", "vqa"):
        assert main(["build", job, "--osm", str(osm), "--imagery", server.url + path,
                     "--out", str(tmp_path / job), "--imagery-option", f"max_zoom={zoom}"]) == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and re.search(
            r"the build would plan [\d,]+ (partitions|VQA chips) over lon -0\.\d+\.\.120\.\d+, "
            r"lat -0\.\d+\.\.60\.\d+ \(limit [\d,]+\); pass --imagery-option bounds=\[WEST,"
            r"SOUTH,EAST,NORTH\] \(degrees\) for the area to build, or a smaller OSM extract$",
            error), error
    assert time.perf_counter() - started < 30  # refused at once, no hang


def test_unbounded_server_split_for_a_cluster_matches_the_in_memory_plan(
        region: Any, server: Any, world: str, tmp_path: Path) -> None:
    """With --scheduler the extract is streamed: one extra pass finds the features' extent."""
    from rsvl.builders.captions import _sample_settings, plan_tasks
    from rsvl.builders.focus import load_focus_features
    from rsvl.builders.partition_features import plan_file_tasks

    server.configure(fail_first=0, fail_status=503, retry_after=None, hidden=[])
    path, _, zoom = world.partition("?max_zoom=")
    config = CaptionBuildConfig(osm=str(region.osm_path), imagery=server.url + path,
                                out=str(tmp_path), partition_px=256,
                                imagery_options={"max_zoom": int(zoom)})
    imagery = open_imagery(config.imagery, **config.imagery_options)
    settings = _sample_settings(config, imagery)
    expected = plan_tasks(config, imagery, load_focus_features(config.osm, imagery), settings)
    _, tasks = plan_file_tasks(config, imagery, settings, tmp_path / ".partitions")
    assert list(tasks) == list(expected) and 1 < len(tasks) < 50
