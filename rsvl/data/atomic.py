"""Atomic file writes: an output either exists complete or not at all.

Every artifact is written to a temporary sibling and renamed into place, so an interrupted job
never leaves a half-written file that looks complete, and a resumed job can trust what exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rsvl.errors import InputError

# Temporaries are hidden and end with this suffix: ``.NAME.RANDOM.tmp``.
TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success fsync and rename it to ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX,
                                    dir=target.parent)
    try:
        # mkstemp creates 0600; give the result the permissions a plain open() would.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise _with_path(error, target) from None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_json(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented, key-sorted JSON, atomically."""
    with atomic_open(path, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a staging folder next to ``path``; on success it replaces ``path`` as a whole.

    A reader sees either the previous folder or the complete new one, never a mixture.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX,
                                    dir=target.parent))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise _with_path(error, target) from None


def _with_path(error: BaseException, target: Path) -> BaseException:
    """An OSError that names no file (a failed write) gets the output it was writing."""
    if isinstance(error, OSError) and error.filename is None and error.errno is not None:
        named = type(error)(error.errno, error.strerror, str(target))
        named.__traceback__ = error.__traceback__
        return named
    return error


def remove_stale_temporaries(root: str | Path) -> int:
    """Delete the temporaries (``.NAME.RANDOM.tmp`` files and staging folders) that writers
    killed mid-write left under ``root``; returns how many were removed.

    Call it only while nothing writes under ``root``, e.g. when a build that owns its output
    folder starts or resumes.
    """
    root = Path(root)
    if not root.is_dir():
        return 0
    stale = [p for p in root.rglob(f".*{TEMP_SUFFIX}") if p.name.count(".") >= 3]
    for path in sorted(stale, key=lambda p: len(p.parts)):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(stale)


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """Read a JSON file; a missing or malformed file raises one line naming it (and the line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: malformed JSON at line {error.lineno} ({error.msg})") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason}); "
                         "JSON files are UTF-8") from None
