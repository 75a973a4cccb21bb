"""Fault injection: kill a long job at random points of its progress, rerun it, compare bytes.

A :class:`Job` is one command line with the outputs it writes. :func:`reference` runs it once
uninterrupted and keeps a snapshot of every output byte; :func:`trial` runs it again at the same
paths, sends a signal after the K-th output file appears (K drawn from a seeded generator, plus a
random delay of up to a few tenths of a second, so kills land between and during writes), then
reruns the same command to the end and returns what differs from the reference. Runs always use
the same paths, so outputs that name their own path (manifests) compare as they are.

Used by tests/faults/test_faults.py; run by hand with more kills:
``RSVL_FAULTS_N=50 .venv/bin/python -m pytest tests/faults -q``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# A snapshot: relative path (prefixed by the output's name) -> bytes, after normalisation.
Snapshot = dict[str, bytes]
# (relative path, bytes) -> bytes to compare, or None to leave the file out.
Normalise = Callable[[str, bytes], "bytes | None"]

TIMEOUT_S = 600
POLL_S = 0.003


@dataclass
class Job:
    """One long job: its command line, the outputs it writes, and how to compare them.

    Attributes:
        name: short name for reports.
        command: the argv, run with the environment of the tests plus ``env``.
        outputs: the files or folders the job writes (compared whole; removed before each run).
        normalise: maps an output file's bytes to the bytes compared (None: not compared); only
            for fields that legitimately differ between runs (wall-clock times).
        prepare: called before each run from scratch (e.g. restore an input the job edits).
        env: extra environment variables.
    """

    name: str
    command: list[str]
    outputs: list[Path]
    normalise: Normalise | None = None
    prepare: Callable[[], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Reference:
    """An uninterrupted run: its snapshot, how many files appeared, how long it took (and
    when its first file appeared)."""

    snapshot: Snapshot
    files_seen: int
    seconds: float
    first_file_s: float


@dataclass
class Outcome:
    """One injected fault and its resume."""

    signal: str
    after_files: int  # the signal was sent once this many new files had appeared...
    delay_s: float  # ...and this many seconds later (negative: -seconds after the start)
    stopped_by_signal: bool  # False: the job finished before the signal landed
    returncode: int
    stderr: str
    leftovers: list[str]  # after a clean stop: temporaries or a manifest left behind
    differences: list[str]  # paths whose bytes differ from the reference after the resume


def _environment(job: Job) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **job.env}


def _clear(job: Job) -> None:
    for output in job.outputs:
        if output.is_dir():
            shutil.rmtree(output)
        elif output.exists():
            output.unlink()
    if job.prepare is not None:
        job.prepare()


def _files(job: Job) -> list[Path]:
    """The files under the job's outputs now; folders the job renames or removes while they
    are walked (``.step_6.partial`` becoming ``step_6``) are skipped, not an error."""
    found = []
    for output in job.outputs:
        if output.is_dir():
            found.extend(Path(folder) / name for folder, _, names in os.walk(output)
                         for name in names)
        elif output.is_file():
            found.append(output)
    return found


def snapshot(job: Job) -> Snapshot:
    """Every output file's bytes (normalised), keyed by output name and relative path."""
    taken: Snapshot = {}
    for output in job.outputs:
        paths = sorted(p for p in output.rglob("*") if p.is_file()) if output.is_dir() else (
            [output] if output.is_file() else [])
        for path in paths:
            name = output.name if path == output else f"{output.name}/{path.relative_to(output)}"
            data = path.read_bytes()
            kept = job.normalise(name, data) if job.normalise else data
            if kept is not None:
                taken[name] = kept
    return taken


def _run_to_end(job: Job) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(job.command, env=_environment(job), capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{job.name}: {' '.join(job.command)} failed "
                             f"({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def reference(job: Job) -> Reference:
    """Run the job uninterrupted from scratch, counting the files that appear on the way."""
    _clear(job)
    before = set(_files(job))  # inputs put in place by ``prepare`` are no progress
    start = time.monotonic()
    process = subprocess.Popen(job.command, env=_environment(job), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen: set[Path] = set()
    first: float | None = None
    while process.poll() is None:
        seen.update(_files(job))
        if first is None and seen - before:
            first = time.monotonic() - start
        time.sleep(POLL_S)
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise AssertionError(f"{job.name} failed ({process.returncode}):\n{stderr[-3000:]}")
    seen.update(_files(job))
    seconds = time.monotonic() - start
    return Reference(snapshot(job), len(seen - before), seconds,
                     seconds if first is None else first)


def differences(expected: Snapshot, actual: Snapshot) -> list[str]:
    """Paths missing, extra or with other bytes."""
    return sorted(name for name in expected.keys() | actual.keys()
                  if expected.get(name) != actual.get(name))


def trial(job: Job, ref: Reference, rng: random.Random, sig: signal.Signals) -> Outcome:
    """Start from scratch, send ``sig`` at a random point of progress, rerun, compare."""
    _clear(job)
    before = set(_files(job))
    # Half the draws: after the K-th new file (plus up to 0.3 s), which spreads the kills over
    # the writes; the others: a moment of the reference's duration, which also reaches jobs
    # that compute long before writing. SIGKILL may land anywhere, start-up included; a clean
    # stop is asked once the job has started writing (before, rsvl's handler may not be set).
    if rng.random() < 0.5:
        after = rng.randint(0 if sig == signal.SIGKILL else 1, max(1, ref.files_seen - 1))
        delay = rng.uniform(0.0, 0.3)
    else:
        after = 0 if sig == signal.SIGKILL else 1
        delay = -rng.uniform(0.0, ref.seconds)  # negative: counted from the start
    started = time.monotonic()
    process = subprocess.Popen(job.command, env=_environment(job), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen: set[Path] = set()
    deadline = time.monotonic() + TIMEOUT_S
    while process.poll() is None and len(seen) < after and time.monotonic() < deadline:
        seen.update(p for p in _files(job) if p not in before)
        time.sleep(POLL_S)
    time.sleep(delay if delay >= 0 else max(0.0, started - delay - time.monotonic()))
    stopped = process.poll() is None
    if stopped:
        # The whole process group, as a terminal's Ctrl-C or a scheduler's stop reaches it.
        os.killpg(process.pid, sig)
    _, stderr = process.communicate(timeout=TIMEOUT_S)
    leftovers: list[str] = []
    if stopped and sig != signal.SIGKILL:
        written = [p for p in _files(job) if p not in before]
        leftovers = [str(p) for p in written if p.name.endswith(".tmp")]
        # A manifest marks a complete output: after a stop it may only be there when the
        # signal came once the job had finished its work (then every byte is the reference's).
        if process.returncode != 0 and snapshot(job) != ref.snapshot:
            leftovers += [str(p) for p in written if p.name == "manifest.json"]
    _run_to_end(job)
    return Outcome(sig.name, after, round(delay, 3), stopped, process.returncode, stderr,
                   leftovers, differences(ref.snapshot, snapshot(job)))


def rsvl(*args: str) -> list[str]:
    """The argv of ``rsvl ARGS`` in this interpreter."""
    return [sys.executable, "-m", "rsvl", *args]
