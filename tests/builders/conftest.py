"""Fixtures of the build tests: a tiny hand-made dataset (records + chip files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.builders.chips import chip_path
from rsvl.data.records import SPLITS, Record


def _make_dataset(root: Path, count: int = 6) -> list[Record]:
    """``count`` records with 32 px JPEG chips, 100 m apart, splits cycling, varied tags."""
    rng = np.random.default_rng(0)
    tags = [{"landuse": "farmland"}, {"natural": "beach"}, {"highway": "track",
            "surface": "sand"}]
    records = []
    for index in range(count):
        key = f"fixture-way-{index}"
        image = chip_path(key, "jpg")
        (root / image).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / image)
        x = 500_000.0 + 100 * index
        records.append(Record(
            key=key, image=image, captions=[f"a satellite image of thing {index}",
                                            f"thing {index} seen from above"],
            split=SPLITS[index % 3], source="fixture", licence="test",
            osm_ids=[f"way/{index}"], tags=tags[index % 3],
            footprint=[x, 4_300_000.0, x + 50, 4_300_050.0], crs="EPSG:32629", gsd_m=1.5,
            extra={"pixel_sha256": f"{index:064x}"},
        ))
    return records


@pytest.fixture
def make_dataset() -> Callable[..., list[Record]]:
    """Factory: ``make_dataset(root, count)`` writes chips under root and returns records."""
    return _make_dataset


# The tiny scene: a 400 m x 400 m UTM orthophoto (1 m/px) and an OSM XML file whose features
# each hit one case of the builder. Local coordinates (u, v) are metres from the south-west
# corner. Generated per test session with a fixed seed; small enough to build in a second.
SCENE_CRS = "EPSG:32629"
SCENE_ORIGIN = (500_000.0, 4_299_600.0)
SCENE_SIZE = 400
NODATA_BLOCK = (300, 0, 400, 100)  # u0, v0, u1, v1
BLANK_BLOCK = (300, 300, 400, 400)
SCENE_WAYS: dict[int, tuple[tuple[float, float, float, float], dict[str, str]]] = {
    1: ((100, 100, 120, 120), {"building": "yes"}),              # kept
    2: ((135, 105, 160, 115), {"building": "yes"}),              # crosses way 1's chip edge
    3: ((2, 300, 22, 320), {"building": "yes"}),                 # near the edge: shifted in
    4: ((50, 300, 52, 302), {"building": "yes"}),                # too small
    5: ((5, 5, 395, 395), {"landuse": "farmland"}),              # too large
    6: ((340, 40, 360, 60), {"building": "yes", "name": "X"}),   # in the nodata block
    7: ((340, 340, 360, 360), {"building": "yes"}),              # in the blank block
    8: ((-10, 200, 10, 220), {"building": "yes"}),               # reaches beyond the imagery
    9: ((60, 60, 70, 70), {"name": "Nothing to see"}),           # not groundable: no focus
}
SCENE_NODES = {20: ((110.0, 110.0), {"shop": "bakery"})}         # same chip as way 1
SCENE_RELATION = (10, (180, 180, 260, 260), (210, 210, 230, 230), {"leisure": "park"})


def _write_scene(folder: Path) -> tuple[Path, Path]:
    import rasterio
    from pyproj import Transformer
    from rasterio.transform import from_origin

    rng = np.random.default_rng(42)
    pixels = rng.integers(1, 256, (3, SCENE_SIZE, SCENE_SIZE), dtype=np.uint8)
    for (u0, v0, u1, v1), value in ((NODATA_BLOCK, 0), (BLANK_BLOCK, 120)):
        pixels[:, SCENE_SIZE - v1:SCENE_SIZE - v0, u0:u1] = value
    ortho = folder / "ortho.tif"
    x0, y0 = SCENE_ORIGIN
    with rasterio.open(ortho, "w", driver="GTiff", width=SCENE_SIZE, height=SCENE_SIZE,
                       count=3, dtype="uint8", crs=SCENE_CRS, nodata=0,
                       transform=from_origin(x0, y0 + SCENE_SIZE, 1.0, 1.0)) as dataset:
        dataset.write(pixels)

    to_lonlat = Transformer.from_crs(SCENE_CRS, "EPSG:4326", always_xy=True)
    nodes: list[str] = []
    ways: list[str] = []

    def node(u: float, v: float, tags: dict[str, str] | None = None) -> int:
        lon, lat = to_lonlat.transform(x0 + u, y0 + v)
        node_id = 1000 + len(nodes)
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())
        nodes.append(f'<node id="{node_id}" version="1" lat="{lat:.8f}" lon="{lon:.8f}">'
                     f"{body}</node>")
        return node_id

    def ring(way_id: int, box: tuple[float, float, float, float], tags: dict[str, str]) -> None:
        u0, v0, u1, v1 = box
        ids = [node(u0, v0), node(u1, v0), node(u1, v1), node(u0, v1)]
        refs = "".join(f'<nd ref="{i}"/>' for i in [*ids, ids[0]])
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        ways.append(f'<way id="{way_id}" version="1">{refs}{body}</way>')

    for way_id, (box, tags) in SCENE_WAYS.items():
        ring(way_id, box, tags)
    for node_id, ((u, v), tags) in SCENE_NODES.items():
        lon, lat = to_lonlat.transform(x0 + u, y0 + v)
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        nodes.append(f'<node id="{node_id}" version="1" lat="{lat:.8f}" lon="{lon:.8f}">'
                     f"{body}</node>")
    relation_id, outer, inner, tags = SCENE_RELATION
    ring(101, outer, {})
    ring(102, inner, {})
    members = "".join(f'<member type="way" ref="{ref}" role="{role}"/>'
                      for ref, role in ((101, "outer"), (102, "inner")))
    body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in {"type": "multipolygon", **tags}.items())
    relation = f'<relation id="{relation_id}" version="1">{members}{body}</relation>'
    osm = folder / "scene.osm"
    osm.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="rsvl">\n'
                   + "\n".join([*nodes, *ways, relation]) + "\n</osm>\n")
    return osm, ortho


@pytest.fixture(scope="session")
def tiny_scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(scene.osm, ortho.tif)``: the tiny edge-case scene described above."""
    return _write_scene(tmp_path_factory.mktemp("tiny-scene"))
