"""Partitions on a Dask LocalCluster: same bytes as the process pool, a killed worker loses nothing.

One 2-worker cluster (processes, one thread each) serves the whole module: starting one costs
seconds on a small machine.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import pytest

from rsvl.builders import scheduler
from rsvl.builders.captions import (
    PARTITIONS_DIR,
    CaptionBuildConfig,
    _sample_settings,
    build_captions,
)
from rsvl.builders.partition_features import (
    FilePartitionTask,
    make_file_partition,
    plan_file_tasks,
)
from rsvl.builders.partitions import read_result, run_partitions, write_result
from rsvl.cli import main
from rsvl.errors import ConfigError, InputError, RemoteReadError
from rsvl.imagery import open_imagery

# Workers cannot import this test module: send its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The address of a 2-worker LocalCluster."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as local:
        yield local.scheduler_address


def _config(scene: tuple[Path, Path], out: Path, scheduler_spec: str | None
            ) -> CaptionBuildConfig:
    osm, ortho = scene
    return CaptionBuildConfig(osm=str(osm), imagery=str(ortho), out=str(out), partition_px=100,
                              scheduler=scheduler_spec, shard_size=2)


def _outputs(root: Path) -> dict[str, bytes]:
    """records.jsonl and every shard file (of every split's folder), by relative name."""
    shards = sorted(p for p in (root / "shards").rglob("*") if p.is_file())
    files = [root / "records.jsonl", *shards]
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in files}


@pytest.fixture(scope="module")
def pool_build(tiny_scene: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, bytes]:
    """The outputs of the process-pool build of the tiny scene."""
    out = tmp_path_factory.mktemp("pool")
    build_captions(_config(tiny_scene, out, None))
    return _outputs(out)


def test_specs_are_checked_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in ("local:2", "tcp://10.0.0.1:8786", "file:/shared/scheduler.json"):
        assert scheduler.check_scheduler(spec) == spec
    for spec in ("local:0", "local:two", "10.0.0.1:8786", "tcp://", "file:"):
        with pytest.raises(ConfigError, match="expected local:N"):
            scheduler.check_scheduler(spec)
    monkeypatch.setattr(scheduler, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler") as error:
        run_partitions({Path("x.jsonl"): 1}, _square, scheduler="tcp://127.0.0.1:9")
    assert "\n" not in str(error.value)


def _square(task: tuple[Path, int]) -> None:
    path, value = task
    if value < 0:
        raise ValueError(f"negative value {value}")
    write_result(path, [{"value": value * value}])


def test_dask_runs_skip_complete_results_and_report_errors(cluster: str, tmp_path: Path) -> None:
    tasks = {tmp_path / f"p{i}.jsonl": (tmp_path / f"p{i}.jsonl", i) for i in range(5)}
    write_result(tmp_path / "p0.jsonl", [{"value": -1}])  # done earlier
    assert run_partitions(tasks, _square, scheduler=cluster) == 4
    assert [row["value"] for path in tasks for row in read_result(path)] == [-1, 1, 4, 9, 16]
    assert run_partitions(tasks, _square, scheduler=cluster) == 0
    bad = {tmp_path / "bad.jsonl": (tmp_path / "bad.jsonl", -2)}
    with pytest.raises(ValueError, match="negative value -2"):
        run_partitions(bad, _square, scheduler=cluster)
    assert not (tmp_path / "bad.jsonl").exists()


def _fail_counted(task: tuple[Path, type[Exception]]) -> None:
    """Append one line to the task's log per attempt, then fail with the task's error."""
    log, error = task
    with log.open("a") as handle:
        handle.write("attempt\n")
    raise error(f"failed in {log.name}")


def test_user_errors_are_not_retried_transient_ones_are(cluster: str, tmp_path: Path) -> None:
    retried = 1 + scheduler.DEFAULT_RETRIES
    for error, attempts in ((InputError, 1), (ConfigError, 1), (RemoteReadError, retried),
                            (OSError, retried)):
        log = tmp_path / f"{error.__name__}.log"
        with pytest.raises(error, match=f"failed in {log.name}"):
            run_partitions({tmp_path / "out.jsonl": (log, error)}, _fail_counted,
                           scheduler=cluster)
        assert log.read_text().count("attempt") == attempts


def test_dask_build_has_the_pool_build_bytes(cluster: str, tiny_scene: tuple[Path, Path],
                                             pool_build: dict[str, bytes], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    osm, ortho = tiny_scene
    assert main(["build", "captions", "--osm", str(osm), "--imagery", str(ortho), "--out",
                 str(tmp_path), "--partition-px", "100", "--shard-size", "2",
                 "--scheduler", cluster]) == 0
    assert len(pool_build) > 2  # records, shards, sizes.json
    assert _outputs(tmp_path) == pool_build
    assert (tmp_path / PARTITIONS_DIR / "features").is_dir()
    with pytest.raises(SystemExit) as usage:
        main(["build", "captions", "--osm", str(osm), "--imagery", str(ortho), "--out",
              str(tmp_path / "x"), "--scheduler", "local"])
    assert usage.value.code == 2
    assert "--scheduler 'local': expected local:N" in capsys.readouterr().err


def _die_once(task: FilePartitionTask) -> None:
    """Make the partition, except that the first worker to get here SIGKILLs itself."""
    try:
        claim = os.open(task.root / "killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        make_file_partition(task)
        return
    os.write(claim, str(task.result.name).encode())
    os.close(claim)
    os.kill(os.getpid(), signal.SIGKILL)


def test_killed_worker_loses_and_duplicates_nothing(cluster: str, tiny_scene: tuple[Path, Path],
                                                     pool_build: dict[str, bytes],
                                                     tmp_path: Path) -> None:
    config = _config(tiny_scene, tmp_path, cluster)
    imagery = open_imagery(config.imagery)
    _, tasks = plan_file_tasks(config, imagery, _sample_settings(config, imagery),
                               tmp_path / PARTITIONS_DIR)
    # Dask reschedules the killed worker's partition on a live worker (or its restart).
    assert run_partitions(tasks, _die_once, scheduler=cluster) == len(tasks)
    killed = (tmp_path / "killed").read_text()
    assert killed in {path.name for path in tasks} and all(path.is_file() for path in tasks)
    (tmp_path / "killed").unlink()
    result = build_captions(config)  # runs nothing more, assembles the outputs
    assert _outputs(tmp_path) == pool_build
    keys = [record.key for record in result.records]
    assert len(keys) == len(set(keys))
