"""Run a build's partitions on a Dask cluster (``distributed``), with retries and progress.

A scheduler is named by a spec string, as given to ``--scheduler``:

- ``local:N``: a ``LocalCluster`` of N single-threaded worker processes on this machine;
- ``tcp://host:port`` (any ``scheme://`` Dask understands): a running ``dask scheduler``;
- ``file:PATH``: the scheduler file that ``dask scheduler --scheduler-file`` or dask-mpi wrote.

Partitions are submitted as futures of the same module-level function the process pool runs.
A partition whose worker dies is rescheduled by Dask on another worker (up to
``distributed.scheduler.allowed-failures`` times); one that raises is retried ``retries``
times, then its error reaches the caller, except a user error (:class:`rsvl.errors.InputError`,
:class:`rsvl.errors.ConfigError`: a bad input fails the same way every time), which reaches it
at once. Transient errors (:class:`rsvl.errors.RemoteReadError`, ``OSError``) are retried.
Each partition writes its result atomically, so finished partitions survive a failed client
and a rerun skips them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tqdm import tqdm

from rsvl.errors import ConfigError, RsvlError, TransientError

if TYPE_CHECKING:
    from distributed import Client

TaskT = TypeVar("TaskT")

LOCAL_PREFIX = "local:"
FILE_PREFIX = "file:"
# Seconds to wait for a remote scheduler before reporting it unreachable.
CONNECT_TIMEOUT_S = 10
DEFAULT_RETRIES = 2


def _local_client(spec: str) -> Client:
    from distributed import Client, LocalCluster

    # One thread per worker: partitions hold the GIL while framing and encoding chips.
    cluster = LocalCluster(n_workers=int(spec.removeprefix(LOCAL_PREFIX)), threads_per_worker=1,
                           processes=True, dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster)


def _remote_client(spec: str) -> Client:
    from distributed import Client

    options: dict[str, Any] = (
        {"scheduler_file": spec.removeprefix(FILE_PREFIX)} if spec.startswith(FILE_PREFIX)
        else {"address": spec})
    try:
        return Client(timeout=CONNECT_TIMEOUT_S, **options)
    except (OSError, TimeoutError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(
            f"--scheduler {spec!r}: cannot reach the Dask scheduler ({reason}); start one with "
            "'dask scheduler' (+ 'dask worker ADDRESS' per machine) or use --scheduler local:N"
        ) from None


def check_scheduler(spec: str) -> str:
    """Validate the form of a scheduler spec (without connecting); returns it.

    Raises:
        ConfigError: The spec is none of ``local:N``, ``scheme://host:port``, ``file:PATH``.
    """
    count = spec.removeprefix(LOCAL_PREFIX)
    valid = (
        (spec.startswith(LOCAL_PREFIX) and count.isdigit() and int(count) >= 1)
        or ("://" in spec and spec.split("://", 1)[1] != "")
        or (spec.startswith(FILE_PREFIX) and len(spec) > len(FILE_PREFIX))
    )
    if not valid:
        raise ConfigError(
            f"--scheduler {spec!r}: expected local:N (a LocalCluster of N workers), "
            "tcp://host:port (a running Dask scheduler) or file:PATH (a scheduler file)"
        )
    return spec


@contextlib.contextmanager
def dask_client(spec: str) -> Iterator[Client]:
    """A ``distributed.Client`` for ``spec``; a ``local:N`` cluster is closed on exit.

    Raises:
        ConfigError: The spec is malformed or its scheduler cannot be reached.
    """
    check_scheduler(spec)
    client = _local_client(spec) if spec.startswith(LOCAL_PREFIX) else _remote_client(spec)
    try:
        yield client
    finally:
        cluster = client.cluster if spec.startswith(LOCAL_PREFIX) else None
        client.close()
        if cluster is not None:
            cluster.close()


def _attempt(work: Callable[[TaskT], None], task: TaskT) -> RsvlError | None:
    """Run one task on a worker; return a user error instead of raising it.

    Dask retries every task that raises and offers no per-exception choice, so deterministic
    user errors travel back as the task's result (skipping the retries) and the client raises
    them; transient and unexpected errors still raise, and Dask retries them.
    """
    try:
        work(task)
    except TransientError:
        raise
    except RsvlError as error:
        return error
    return None


def run_on_dask(pending: Sequence[TaskT], work: Callable[[TaskT], None], spec: str,
                bar: tqdm | None = None, retries: int = DEFAULT_RETRIES,
                names: Sequence[str] | None = None) -> None:
    """Run ``work(task)`` for every task on the Dask cluster ``spec``; wait for all.

    Args:
        pending: Picklable tasks; ``work`` writes each task's result atomically.
        work: A module-level function importable on the workers.
        spec: Scheduler spec (see the module docstring).
        bar: Progress bar advanced as futures complete.
        retries: Extra attempts for a task that raises, unless it raised a user error
            (an :class:`rsvl.errors.RsvlError` that is not a ``TransientError``).
        names: Readable names of the tasks (shown in the Dask dashboard).

    Raises:
        ConfigError: The scheduler cannot be reached.
        Exception: The first task error left after its retries (unfinished tasks are cancelled).
    """
    from distributed import as_completed

    if not pending:
        return
    run = uuid.uuid4().hex[:8]  # unique keys: a rerun on the same cluster never reuses results
    labels = names if names is not None else [str(i) for i in range(len(pending))]
    with dask_client(spec) as client:
        futures = client.map(functools.partial(_attempt, work), list(pending),
                             key=[f"{label}-{run}" for label in labels], retries=retries,
                             pure=False)
        try:
            for future in as_completed(futures):
                user_error = future.result()  # a worker's exception, with its message, raised
                if user_error is not None:
                    raise user_error
                if bar is not None:
                    bar.update()
        except BaseException:
            client.cancel(futures)
            raise
