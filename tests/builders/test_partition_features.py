"""Streamed per-partition feature split: same focus/context as the in-memory plan, reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.builders.captions import (
    PARTITIONS_DIR,
    CaptionBuildConfig,
    _sample_settings,
    plan_tasks,
)
from rsvl.builders.focus import load_focus_features
from rsvl.builders.partition_features import (
    FEATURES_DIR,
    SUMMARY_FILE,
    plan_file_tasks,
    read_partition,
)
from rsvl.errors import InputError
from rsvl.imagery import open_imagery


def _config(scene: tuple[Path, Path], out: Path, **options: object) -> CaptionBuildConfig:
    osm, ortho = scene
    options = {"partition_px": 100, **options}
    return CaptionBuildConfig(osm=str(osm), imagery=str(ortho), out=str(out),
                              **options)  # type: ignore[arg-type]


def test_split_matches_the_in_memory_plan(tiny_scene: tuple[Path, Path], tmp_path: Path) -> None:
    config = _config(tiny_scene, tmp_path)
    imagery = open_imagery(config.imagery)
    settings = _sample_settings(config, imagery)
    focus = load_focus_features(config.osm, imagery)
    expected = plan_tasks(config, imagery, focus, settings)
    # Tiny chunks: features of one partition arrive in several pieces, in stream order.
    split_focus, tasks = plan_file_tasks(config, imagery, settings, tmp_path / PARTITIONS_DIR,
                                         chunk_size=3)
    assert len(list(next(iter(tasks.values())).features.glob("c*.parquet"))) > 1
    assert list(tasks) == list(expected)
    assert len(tasks) > 3  # the 4 x 4 grid spreads the scene's objects
    for path, task in tasks.items():
        focus_rows, context_rows = read_partition(task.features)
        assert focus_rows == expected[path].focus
        assert context_rows == expected[path].context
    # Every focus object sits in exactly one partition, even when it crosses partition edges.
    ids = [row[0] for task in tasks.values() for row in read_partition(task.features)[0]]
    assert sorted(ids) == sorted(set(ids)) == sorted(focus.frame["osm_id"][
        focus.frame["phrase"].notna()])
    assert split_focus.vocabulary.to_dict() == focus.vocabulary.to_dict()
    assert split_focus.outside == focus.outside


def test_split_is_reused_unless_its_inputs_change(tiny_scene: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    config = _config(tiny_scene, tmp_path)
    imagery = open_imagery(config.imagery)
    settings = _sample_settings(config, imagery)
    results = tmp_path / PARTITIONS_DIR
    first = plan_file_tasks(config, imagery, settings, results)[1]
    summary = results / FEATURES_DIR / SUMMARY_FILE
    stamp = summary.stat().st_mtime_ns
    again_focus, again = plan_file_tasks(config, imagery, settings, results)
    assert list(again) == list(first) and summary.stat().st_mtime_ns == stamp
    assert again_focus.vocabulary.features_seen == 10 - again_focus.outside
    coarser = _config(tiny_scene, tmp_path, partition_px=200)
    regrouped = plan_file_tasks(coarser, imagery, _sample_settings(coarser, imagery), results)[1]
    assert len(regrouped) < len(first)
    assert json.loads(summary.read_text())["inputs"]["tile_size"] == 200.0
    assert not list(results.glob(f"{FEATURES_DIR}.tmp-*"))


def test_extract_missing_the_imagery_is_one_line(tiny_scene: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    far = tmp_path / "far.geojson"
    far.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"building": "yes"},
        "geometry": {"type": "Point", "coordinates": [100.0, 10.0]}}]}))
    config = _config((far, tiny_scene[1]), tmp_path)
    imagery = open_imagery(config.imagery)
    with pytest.raises(InputError, match="no groundable OSM feature of .*far.geojson") as error:
        plan_file_tasks(config, imagery, _sample_settings(config, imagery),
                        tmp_path / PARTITIONS_DIR)
    assert "\n" not in str(error.value)
