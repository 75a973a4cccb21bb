"""Spatial partitions: row-major planning, point lookup, resumable pool runs."""

from __future__ import annotations

import errno
import json
import time
from pathlib import Path

import pytest

from rsvl.builders.partitions import (
    partition_of,
    plan_partitions,
    read_result,
    result_path,
    run_partitions,
    start_forked,
    write_result,
)

AREA = (0.0, 0.0, 250.0, 120.0)


def test_plan_and_lookup_agree() -> None:
    partitions = plan_partitions(AREA, 100.0)
    assert len(partitions) == 6  # 3 columns x 2 rows, the last ones clipped
    assert partitions[2].bounds == (200.0, 0.0, 250.0, 100.0)
    assert partitions[5].bounds == (200.0, 100.0, 250.0, 120.0)
    for point in [(5.0, 5.0), (150.0, 110.0), (249.0, 119.0), (-3.0, 500.0)]:
        index = partition_of(point, AREA, 100.0)
        minx, miny, maxx, maxy = partitions[index].bounds
        clamped = (min(max(point[0], 0.0), 249.9), min(max(point[1], 0.0), 119.9))
        assert minx <= clamped[0] < maxx and miny <= clamped[1] < maxy


def _square(task: tuple[Path, int]) -> None:
    path, value = task
    if value < 0:
        raise ValueError(f"negative value {value}")
    write_result(path, [{"value": value * value}])


@pytest.mark.parametrize("workers", [1, 2])
def test_run_skips_complete_results(tmp_path: Path, workers: int) -> None:
    partitions = plan_partitions(AREA, 100.0)
    tasks = {result_path(tmp_path, p): (result_path(tmp_path, p), p.index) for p in partitions}
    write_result(result_path(tmp_path, partitions[0]), [{"value": -1}])  # done earlier
    assert run_partitions(tasks, _square, workers=workers) == 5
    values = [row["value"] for path in tasks for row in read_result(path)]
    assert values == [-1, 1, 4, 9, 16, 25]
    assert run_partitions(tasks, _square, workers=workers) == 0


def test_worker_error_reaches_the_caller(tmp_path: Path) -> None:
    tasks = {tmp_path / "a.jsonl": (tmp_path / "a.jsonl", -2)}
    with pytest.raises(ValueError, match="negative value -2"):
        run_partitions(tasks, _square, workers=2)
    assert not (tmp_path / "a.jsonl").exists()


def _timed(task: tuple[Path, int]) -> None:
    path, _ = task
    started = time.monotonic()
    time.sleep(0.3)
    write_result(path, [{"started": started}])


def test_pool_starts_the_costliest_tasks_first(tmp_path: Path) -> None:
    """Two workers, four tasks of 0.3 s: the two costliest run first (no long task is left
    for the end), and the results do not depend on the order."""
    tasks = {tmp_path / f"p{i}.jsonl": (tmp_path / f"p{i}.jsonl", size)
             for i, size in enumerate([1, 5, 2, 9])}
    assert run_partitions(tasks, _timed, workers=2, cost=lambda task: task[1]) == 4
    started = {size: next(read_result(path))["started"] for path, (_, size) in tasks.items()}
    assert max(started[9], started[5]) < min(started[1], started[2])


def _fill_disk(path: Path) -> int:
    path.write_text("written in the child")
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_forked_call_returns_its_result_and_raises_its_error(tmp_path: Path) -> None:
    """What the forked shard writer reports reaches the parent as it was: the value, or the
    error with its errno (a full disk stays a full disk, exit status 3)."""
    records = [{"key": i} for i in range(1000)]  # inherited, not pickled
    assert start_forked(len, records)() == 1000
    wait = start_forked(_fill_disk, tmp_path / "out.txt")
    with pytest.raises(OSError) as raised:
        wait()
    assert raised.value.errno == errno.ENOSPC
    assert (tmp_path / "out.txt").read_text() == "written in the child"


def test_result_file_is_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "p00000.jsonl"
    write_result(path, [{"b": 1, "a": "é"}])
    assert path.read_text(encoding="utf-8") == json.dumps({"a": "é", "b": 1},
                                                          ensure_ascii=False) + "\n"
