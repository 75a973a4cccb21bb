"""The caption build end to end: edge cases, real Sintra and Kampala, resume, determinism."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from rsvl.builders.captions import CaptionBuildConfig, build_captions
from rsvl.builders.chips import ChipRule
from rsvl.builders.settings import SplitRule
from rsvl.data.records import read_records
from rsvl.errors import ConfigError, InputError

TINY_RULE = ChipRule(chip_size=64, min_object_px=4, max_gsd_factor=4)


def _tiny_config(scene: tuple[Path, Path], out: Path, **changes: object) -> CaptionBuildConfig:
    osm, ortho = scene
    config = CaptionBuildConfig(osm=str(osm), imagery=str(ortho), out=str(out), source="tiny",
                                licence="CC0", rule=TINY_RULE,
                                split=SplitRule(cell_m=1e6))
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def test_tiny_scene_edge_cases(tiny_scene: tuple[Path, Path], tmp_path: Path) -> None:
    result = build_captions(_tiny_config(tiny_scene, tmp_path), command=["test"])
    assert dict(result.rejected) == {
        "blank": 1, "crosses_imagery_edge": 1, "duplicate_footprint": 1, "mostly_nodata": 1,
        "too_large": 1, "too_small": 1,
    }
    records = {r.key: r for r in read_records(tmp_path / "records.jsonl")}
    # The bakery node and building way 1 frame the same chip: the first key wins.
    assert sorted(records) == ["tiny-node-20", "tiny-relation-10", "tiny-way-2", "tiny-way-3"]
    assert records["tiny-way-3"].footprint[0] == 500_000.0  # shifted to the imagery's edge
    park = records["tiny-relation-10"]
    assert park.tags == {"leisure": "park"} and park.captions[0].endswith(" park")
    # Way 2's chip reaches over building way 1, which crosses its edge: context, nearest first.
    assert records["tiny-way-2"].osm_ids == ["way/2", "way/5", "way/1"]
    assert len(records["tiny-way-2"].captions) == 3
    for record in records.values():
        assert (tmp_path / record.image).is_file() and record.crs == "EPSG:32629"
        assert record.licence == "imagery: CC0; OSM: (c) OpenStreetMap contributors, ODbL-1.0"
    # Small objects at native resolution; the 80 m park zoomed out: 80 * 1.4 / 64 px.
    assert [records[k].gsd_m for k in sorted(records)] == pytest.approx([1.0, 1.75, 1.0, 1.0],
                                                                       rel=0.01)
    assert not list((tmp_path / "chips").glob("*/tiny-way-1.jpg"))  # duplicate's chip removed
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"]["chips"] == 4 and manifest["rejected"]["blank"] == 1
    assert len(manifest["inputs"]["osm"]["sha256"]) == 64
    assert manifest["osm_attribution"].startswith("(c) OpenStreetMap")
    assert (tmp_path / "shards" / "train" / "00000.tar").is_file()
    assert (tmp_path / "footprints.parquet").is_file()


def test_rerun_is_identical_and_settings_change_refused(tiny_scene: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    build_captions(_tiny_config(tiny_scene, tmp_path))
    first = (tmp_path / "records.jsonl").read_bytes()
    build_captions(_tiny_config(tiny_scene, tmp_path))
    assert (tmp_path / "records.jsonl").read_bytes() == first
    with pytest.raises(ConfigError, match="different settings"):
        build_captions(_tiny_config(tiny_scene, tmp_path, seed=3))


def test_no_feature_over_the_imagery(tiny_scene: tuple[Path, Path], shared_data: Path,
                                     tmp_path: Path) -> None:
    config = _tiny_config(tiny_scene, tmp_path,
                          osm=str(shared_data / "sintra" / "osm_features.geojson"))
    with pytest.raises(InputError, match="no OSM feature overlaps imagery .*ortho.tif .*32629"):
        build_captions(config)


def test_reader_errors_pass_through(tiny_scene: tuple[Path, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node id='1' lat='1'")
    with pytest.raises(InputError, match="broken.osm"):
        build_captions(_tiny_config(tiny_scene, tmp_path / "out", osm=str(broken)))


def test_sintra_real_tiles_and_tags(shared_data: Path, tmp_path: Path) -> None:
    sintra = shared_data / "sintra"
    config = CaptionBuildConfig(
        osm=str(sintra / "osm_features.geojson"), imagery=str(sintra / "tiles"),
        out=str(tmp_path), source="sintra", licence="Mapbox Satellite (test only)",
        split=SplitRule(cell_m=1000), rule=ChipRule(max_gsd_factor=4))
    result = build_captions(config)
    assert len(result.records) >= 10
    assert all(r.captions[0].startswith("a satellite image of ") for r in result.records)
    assert {"mostly_nodata", "duplicate_footprint"} <= set(result.rejected)  # missing tile
    assert any("parking lot" in r.captions[0] for r in result.records)
    assert all(r.crs == "EPSG:3857" and 0.8 < (r.gsd_m or 0) < 2 for r in result.records)
    assert "highway" in result.focus.vocabulary.report()


def test_kampala_buildings_with_default_tags(shared_data: Path, tmp_path: Path) -> None:
    kampala = shared_data / "kampala"
    config = CaptionBuildConfig(
        osm=str(kampala / "osm_buildings.geojson"), imagery=str(kampala / "tiles"),
        out=str(tmp_path), source="kampala", licence="CC-BY-4.0 (OpenAerialMap)",
        read_options={"default_tags": {"building": "yes"}}, split=SplitRule(cell_m=1000),
        rule=ChipRule(chip_size=128, max_gsd_factor=16))
    result = build_captions(config)
    assert len(result.records) >= 5
    assert all(r.tags == {"building": "yes"} for r in result.records)
    assert all(r.captions[0].endswith(" building") for r in result.records)


@pytest.mark.parametrize("guard_m", [0.0, None], ids=["default-no-overlap", "chip-side-band"])
def test_real_region_splits_share_no_pixel(shared_data: Path, tmp_path: Path,
                                           guard_m: float | None) -> None:
    """The leakage test on real imagery: Kampala's houses in 100 m cells, the default guard
    (chips of different splits never overlap) and a band of the chips' own side."""
    kampala = shared_data / "kampala"
    config = CaptionBuildConfig(
        osm=str(kampala / "osm_buildings.geojson"), imagery=str(kampala / "tiles"),
        out=str(tmp_path), source="kampala", read_options={"default_tags": {"building": "yes"}},
        split=SplitRule(cell_m=100, guard_m=guard_m),
        rule=ChipRule(chip_size=128, max_gsd_factor=16))
    result = build_captions(config)
    boxes = np.array([r.footprint for r in result.records])  # EPSG:3857, the grid's CRS
    splits = np.array([r.split for r in result.records])
    assert len(set(splits)) >= 2 and result.rejected["near_other_split"] > 0
    a, b = boxes[:, None, :], boxes[None, :, :]
    gap = np.maximum(np.maximum(a[..., 0], b[..., 0]) - np.minimum(a[..., 2], b[..., 2]),
                     np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 3], b[..., 3]))
    sides = boxes[:, 2] - boxes[:, 0]
    other = splits[:, None] != splits[None, :]
    band = (sides[:, None] + sides[None, :]) / 2 if guard_m is None else np.zeros_like(gap)
    assert (gap[other] >= band[other]).all()
    report = result.manifest["split"]["per_split"]
    assert sum(n["kept"] for n in report.values()) == len(result.records)
    assert sum(n["dropped_near_other_split"] for n in report.values()) == result.rejected[
        "near_other_split"]


def test_small_region_grows_held_out_regions(tmp_path: Path) -> None:
    """A 1 km region is a few chips wide: no split cell side keeps 90 % of its chips, so the
    default plan grows one region per held-out split; kept chips of different splits still
    never overlap, and the summary says how the split was made."""
    from rsvl.synth import generate_region

    region = generate_region(tmp_path / "region", seed=0, size_m=1000, tiles=False)
    config = CaptionBuildConfig(osm=str(region.osm_path), imagery=str(region.orthophoto_path),
                                out=str(tmp_path / "out"), source="synthetic",
                                rule=ChipRule(chip_size=128), partition_px=500)
    result = build_captions(config)
    split = result.manifest["split"]
    assert split["method"] == "held_out_regions"
    boxes = np.array([r.footprint for r in result.records])  # one UTM zone: ground boxes
    splits = np.array([r.split for r in result.records])
    assert set(splits) == {"train", "val", "test"}
    a, b = boxes[:, None, :], boxes[None, :, :]
    gap = np.maximum(np.maximum(a[..., 0], b[..., 0]) - np.minimum(a[..., 2], b[..., 2]),
                     np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 3], b[..., 3]))
    assert (gap[splits[:, None] != splits[None, :]] >= 0).all()
    assert {s: n["kept"] for s, n in split["per_split"].items()} == {
        s: int((splits == s).sum()) for s in ("train", "val", "test")}
    assert "one grown region per held-out split" in result.summary()


def _cli(out: Path, scene: tuple[Path, Path], workers: int) -> list[str]:
    osm, ortho = scene
    return [sys.executable, "-m", "rsvl", "build", "captions", "--osm", str(osm), "--imagery",
            str(ortho), "--out", str(out), "--source", "tiny", "--chip-size", "64",
            "--min-object-px", "4", "--max-gsd-factor", "4", "--split-cell-m", "1000000",
            "--partition-px", "60", "--workers", str(workers)]


@pytest.fixture(scope="module")
def reference_build(tiny_scene: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
                    ) -> Path:
    """An uninterrupted one-worker CLI build of the tiny scene in several partitions."""
    out = tmp_path_factory.mktemp("reference") / "out"
    subprocess.run(_cli(out, tiny_scene, 1), check=True, capture_output=True)
    assert len(list((out / ".partitions" / "round0").glob("p*.jsonl"))) >= 4
    return out


@pytest.mark.slow
def test_workers_do_not_change_the_output(tiny_scene: tuple[Path, Path], reference_build: Path,
                                          tmp_path: Path) -> None:
    subprocess.run(_cli(tmp_path, tiny_scene, 2), check=True, capture_output=True)
    for name in ("records.jsonl", "shards/train/00000.tar", "parquet/train.parquet"):
        assert (tmp_path / name).read_bytes() == (reference_build / name).read_bytes()


@pytest.mark.slow
def test_resume_after_sigkill(tiny_scene: tuple[Path, Path], reference_build: Path,
                              tmp_path: Path) -> None:
    # Killed once after the first partition completes, once as the records are written.
    for wait_for in (".partitions/round0/p*.jsonl", "records.jsonl"):
        process = subprocess.Popen(_cli(tmp_path, tiny_scene, 1), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if list(tmp_path.glob(wait_for)):
                break
            time.sleep(0.005)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
    # What a kill mid-write leaves: a half-written chip; the resumed build removes it.
    stale = tmp_path / "chips" / ".stale-chip.jpg.k3j9x.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half a jpeg")
    subprocess.run(_cli(tmp_path, tiny_scene, 1), check=True, capture_output=True)
    assert not list(tmp_path.rglob(".*.tmp"))
    for name in ("records.jsonl", "shards/train/00000.tar", "shards/train/sizes.json"):
        assert (tmp_path / name).read_bytes() == (reference_build / name).read_bytes()
    chips = sorted(p.name for p in (tmp_path / "chips").rglob("*.jpg"))
    assert chips == sorted(p.name for p in (reference_build / "chips").rglob("*.jpg"))


def _output_digest(root: Path) -> str:
    """One sha256 over every output file's path and bytes, the manifest and partitions aside
    (the manifest names the machine's paths; partitions are the resumable intermediate)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if name != "manifest.json" and not name.startswith(".partitions/"):
            digest.update(f"{name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


# Digests of builds made before the builder's performance work (commit b4d9aae): records,
# chips, shards, Parquet and footprints must stay byte-identical. If an output change is
# intended (new phrases, another chip rule...), rebuild and record the new digests here.
# Re-pinned when shards/splits.json was added: without that file the old digests still held.
# Re-pinned for captions in English (articles, counts of objects only, focus attributes): with
# the previous caption code the same tree still gave the previous digests.
# Re-pinned for shards per split (shards/{train,val,test}/, each with its sizes.json): the
# committed tree before that change still gave the previous digests.
# Re-pinned for region-text pairs (records' extra.regions, shards' regions.json, Parquet's
# regions column): the committed tree without them still gave the previous digests.
# Re-pinned for long descriptions (records' extra.long_captions): with the regions alone the
# tree gave 683e2473... / 36ba39e0....
# Re-pinned for the Parquet copy's long_captions column (only parquet/*.parquet change): the
# tree without the column gave bb53cde7... / bcf145a1....
PINNED_TINY = "f976bfbef8be9b62841d1ab802e77bd37fee59925a8099c176fbdd0930d54e24"
PINNED_SINTRA = "ed49e0052f704ba5554c3e1e35dd5d0a8edd1cfa0edd8cb6c09a0ae6c3a09a54"


def test_tiny_output_is_pinned(tiny_scene: tuple[Path, Path], tmp_path: Path) -> None:
    result = build_captions(_tiny_config(tiny_scene, tmp_path, partition_px=60))
    assert _output_digest(tmp_path) == PINNED_TINY
    assert dict(result.rejected)["duplicate_footprint"] == 1
    assert set(result.cpu_seconds) == set(result.seconds) == {"features", "chips", "filters",
                                                              "outputs"}


def test_a_build_without_regions_differs_only_by_them(tiny_scene: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    """``regions=False`` (``--no-regions``): no region-text pairs or long descriptions
    anywhere (records, shards, Parquet); every other field and chip byte as with them."""
    import pyarrow.parquet as pq

    full = build_captions(_tiny_config(tiny_scene, tmp_path / "full", partition_px=60))
    bare = build_captions(_tiny_config(tiny_scene, tmp_path / "bare", partition_px=60,
                                       regions=False))
    assert any(r.extra.get("regions") for r in full.records)
    assert len(bare.records) == len(full.records)
    for with_regions, without in zip(full.records, bare.records, strict=True):
        assert "regions" not in without.extra and "long_captions" not in without.extra
        extra = {k: v for k, v in with_regions.extra.items()
                 if k not in ("regions", "long_captions")}
        assert dataclasses.replace(with_regions, extra=extra) == without
        assert ((tmp_path / "full" / with_regions.image).read_bytes()
                == (tmp_path / "bare" / without.image).read_bytes())
    for shard in (tmp_path / "bare" / "shards").rglob("*.tar"):
        with tarfile.open(shard) as tar:
            assert tar.getnames() and not any(n.endswith("regions.json") for n in tar.getnames())
    for table in (tmp_path / "bare" / "parquet").glob("*.parquet"):
        columns = pq.read_table(table).to_pydict()
        assert not any(columns.get("regions", [])) and not any(columns.get("long_captions", []))


def test_sintra_output_is_pinned(shared_data: Path, tmp_path: Path) -> None:
    sintra = shared_data / "sintra"
    config = CaptionBuildConfig(
        osm=str(sintra / "osm_features.geojson"), imagery=str(sintra / "tiles"),
        out=str(tmp_path), source="sintra", licence="Mapbox Satellite (test only)",
        split=SplitRule(cell_m=1000), rule=ChipRule(max_gsd_factor=4), partition_px=300)
    build_captions(config)
    assert _output_digest(tmp_path) == PINNED_SINTRA
