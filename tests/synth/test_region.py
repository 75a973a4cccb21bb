"""generate_region: determinism, reuse, region.json, argument checking."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rsvl.errors import ConfigError, InputError
from rsvl.synth import RegionInfo, generate_region, load_region
from rsvl.synth.region import JSON_FILE


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes(small_region: RegionInfo, tmp_path: Path) -> None:
    again = generate_region(tmp_path, seed=small_region.seed, size_m=small_region.size_m)
    assert not again.reused
    first, second = _files(small_region.out_dir), _files(tmp_path)
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []


def test_other_seed_other_region(tmp_path: Path) -> None:
    a = generate_region(tmp_path / "a", seed=1, size_m=300.0, tiles=False)
    b = generate_region(tmp_path / "b", seed=2, size_m=300.0, tiles=False)
    assert a.osm_path.read_bytes() != b.osm_path.read_bytes()
    assert a.tiles_dir is None and not (tmp_path / "a" / "tiles").exists()


def test_region_json_describes_the_files(small_region: RegionInfo) -> None:
    record = json.loads(small_region.json_path.read_text())
    assert (record["seed"], record["size_m"], record["gsd_m"]) == (0, 600.0, 1.0)
    assert record["crs"] == small_region.crs and len(record["bounds"]) == 4
    west, south, east, north = record["bounds_lonlat"]
    assert 5 < west < east < 25 and 40 < south < north < 55, "somewhere plausible in Europe"
    assert "CC0" in record["attribution"] and record["generator_version"]
    assert set(record["files"]) == {"region.osm", "orthophoto.tif", "classes.tif", "tiles"}
    pixels = {c["name"]: c["pixels"] for c in record["classes"]}
    assert sum(pixels.values()) == small_region.width * small_region.height
    assert (
        record["tag_counts"]["landuse=farmland"] > 0 and record["tag_counts"]["building=house"] > 0
    )


def test_second_call_reuses_without_writing(small_region: RegionInfo) -> None:
    before = {p: p.stat().st_mtime_ns for p in small_region.out_dir.rglob("*") if p.is_file()}
    again = generate_region(
        small_region.out_dir, seed=small_region.seed, size_m=small_region.size_m
    )
    assert again.reused and again.seconds < 2.0
    after = {p: p.stat().st_mtime_ns for p in small_region.out_dir.rglob("*") if p.is_file()}
    assert before == after
    assert load_region(small_region.out_dir).classes == small_region.classes


def test_damaged_file_is_regenerated(tmp_path: Path) -> None:
    first = generate_region(tmp_path, seed=4, size_m=300.0, tiles=False)
    original = first.classes_path.read_bytes()
    first.classes_path.write_bytes(b"broken")
    again = generate_region(tmp_path, seed=4, size_m=300.0, tiles=False)
    assert not again.reused and again.classes_path.read_bytes() == original


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"size_m": 50.0}, "size_m"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"gsd_m": 0.0}, "gsd_m"),
        ({"size_m": 20000.0, "gsd_m": 0.5}, "px per side"),
    ],
)
def test_bad_arguments_raise_one_line(tmp_path: Path, kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        generate_region(tmp_path, **kwargs)
    assert fragment in str(error.value) and "\n" not in str(error.value)
    assert not os.listdir(tmp_path)


def test_load_region_of_a_broken_folder(tmp_path: Path) -> None:
    (tmp_path / JSON_FILE).write_text("{not json")
    with pytest.raises(InputError, match="region.json"):
        load_region(tmp_path)
