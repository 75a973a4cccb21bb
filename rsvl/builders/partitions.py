"""Independent spatial partitions, run in a process pool or on Dask, results written atomically.

A build splits its area into square tiles; every focus object belongs to the tile holding its
footprint's centre, so tiles can be processed in any order, by any number of processes. Each
tile's result is one JSON-lines file renamed into place when complete: a rerun skips tiles
whose file exists, and the assembled output (read back in tile order) does not depend on how
many workers ran or where a previous run was killed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from rsvl.data.atomic import atomic_open

Bounds = tuple[float, float, float, float]
TaskT = TypeVar("TaskT")


@dataclass(frozen=True)
class Partition:
    """One square tile of the build area.

    Attributes:
        index: Position in the deterministic (row-major) order of tiles.
        bounds: ``(minx, miny, maxx, maxy)`` in the imagery CRS.
    """

    index: int
    bounds: Bounds

    @property
    def name(self) -> str:
        """File stem of the tile's result (``p00003``)."""
        return f"p{self.index:05d}"


def plan_partitions(area: Bounds, tile_size: float) -> list[Partition]:
    """Cut ``area`` into row-major square tiles of side ``tile_size`` (the last ones clipped)."""
    minx, miny, maxx, maxy = area
    columns = max(1, math.ceil((maxx - minx) / tile_size))
    rows = max(1, math.ceil((maxy - miny) / tile_size))
    return [
        Partition(
            row * columns + column,
            (minx + column * tile_size, miny + row * tile_size,
             min(maxx, minx + (column + 1) * tile_size), min(maxy, miny + (row + 1) * tile_size)),
        )
        for row in range(rows)
        for column in range(columns)
    ]


def partition_of(point: tuple[float, float], area: Bounds, tile_size: float) -> int:
    """Index of the tile of :func:`plan_partitions` holding ``point`` (clamped into ``area``)."""
    minx, miny, maxx, maxy = area
    columns = max(1, math.ceil((maxx - minx) / tile_size))
    rows = max(1, math.ceil((maxy - miny) / tile_size))
    column = min(columns - 1, max(0, int((point[0] - minx) // tile_size)))
    row = min(rows - 1, max(0, int((point[1] - miny) // tile_size)))
    return row * columns + column


def result_path(folder: Path, partition: Partition) -> Path:
    """Where a tile's result lives (``folder/p00003.jsonl``)."""
    return folder / f"{partition.name}.jsonl"


def write_result(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write a tile's result rows atomically: the file exists only when complete."""
    with atomic_open(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def read_result(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a tile's result, in the order written."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def run_partitions(tasks: dict[Path, TaskT], work: Callable[[TaskT], None], workers: int = 1,
                   description: str = "partitions", scheduler: str | None = None,
                   cost: Callable[[TaskT], float] | None = None) -> int:
    """Run ``work(task)`` for every task whose result file does not exist yet.

    Args:
        tasks: Result path -> picklable task; ``work`` must write that path atomically.
        work: A module-level function (it runs in worker processes when ``workers > 1``).
        workers: Processes to use; 1 runs in this process.
        description: Label of the progress bar.
        scheduler: A Dask scheduler spec (``local:N``, ``tcp://host:port``, ``file:PATH``; see
            :mod:`rsvl.builders.scheduler`) to run the tasks on instead of local processes.
        cost: A task's expected run time (any unit): a process pool starts the costliest
            first, so that no worker is left with a long task when the others are done.

    Returns:
        How many tasks ran (the others were complete from an earlier run).
    """
    unfinished = [path for path in tasks if not path.is_file()]
    pending = [tasks[path] for path in unfinished]
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(pending), desc=description,
               unit="tile", leave=False)
    with bar:
        if scheduler is not None:
            from rsvl.builders.scheduler import run_on_dask

            run_on_dask(pending, work, scheduler, bar,
                        names=[f"{description}-{path.stem}" for path in unfinished])
            return len(pending)
        if workers <= 1:
            for task in pending:
                work(task)
                bar.update()
            return len(pending)
        if cost is not None:
            pending.sort(key=cost, reverse=True)  # stable: ties keep the tiles' order
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(work, task) for task in pending}
            try:
                while futures:
                    done, futures = wait(futures, return_when=FIRST_EXCEPTION)
                    for future in done:
                        future.result()  # re-raise a worker's error here, with its message
                        bar.update()
            except BaseException:
                # Completed tiles are on disk; the rest is redone by the next run.
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return len(pending)


def start_forked(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """Start ``fn(*args)`` in a forked copy of this process (the arguments are not pickled);
    the returned call waits for its result, or raises its exception here."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def run() -> None:
        try:
            send.send((True, fn(*args)))
        except BaseException as error:  # noqa: BLE001 - handed to the parent as it is
            send.send((False, error))

    process = context.Process(target=run, daemon=True)
    process.start()
    send.close()

    def result() -> Any:
        try:
            ok, value = receive.recv()
        except EOFError:
            process.join()
            raise RuntimeError(f"the output writer process died (exit code "
                               f"{process.exitcode})") from None
        process.join()
        if not ok:
            raise value
        return value

    return result
