"""Operating-system errors reach the user as one line with the path and the fix (exit 3), and
the same command completes afterwards. Each is provoked for real in a subprocess."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rsvl.errors import EXIT_SYSTEM_ERROR, describe_os_error

pytestmark = pytest.mark.slow


def _build_command(shared_data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "rsvl", "build", "captions",
            "--osm", str(shared_data / "sintra" / "osm_features.geojson"),
            "--imagery", str(shared_data / "sintra" / "tiles"), "--out", str(out),
            "--source", "sintra", "--seed", "0"]


def _run(command: list[str], preexec: Callable[[], None] | None = None,
         user: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                          preexec_fn=preexec, user=user, group=user, extra_groups=[] if user
                          else None, timeout=600)


def _one_line(stderr: str) -> str:
    """The error line; progress bars may precede it on the same stream."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if "error" in line]
    assert len(lines) == 1, stderr
    return lines[0]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def test_describe_names_path_and_fix() -> None:
    line = describe_os_error(OSError(errno.ENOSPC, "No space left on device", "/data/x.tar"))
    assert line.startswith("No space left on device: /data/x.tar (the disk is full")
    # too many open files: provoking it for real depends on how many descriptors the stack
    # opens at start-up, so its line is checked here
    assert "ulimit -n" in describe_os_error(OSError(errno.EMFILE, "Too many open files"))
    assert describe_os_error(OSError(errno.EIO, "Input/output error")).endswith("rerun to resume)")


def test_out_under_a_file(shared_data: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    failed = _run(_build_command(shared_data, blocker / "out"))
    assert failed.returncode == EXIT_SYSTEM_ERROR
    line = _one_line(failed.stderr)
    assert "Not a directory" in line and str(blocker) in line and "choose another path" in line
    done = _run(_build_command(shared_data, tmp_path / "out"))
    assert done.returncode == 0, done.stderr


def test_file_size_limit_then_resume_is_identical(shared_data: Path, tmp_path: Path) -> None:
    limit = 40 * 1024  # bytes: chips fit, the first shard tar does not

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    failed = _run(_build_command(shared_data, tmp_path / "out"), preexec=small_files)
    assert failed.returncode == EXIT_SYSTEM_ERROR, failed.stderr
    line = _one_line(failed.stderr)
    assert "File too large" in line and str(tmp_path / "out") in line and "ulimit -f" in line
    assert not (tmp_path / "out" / "manifest.json").exists()  # nothing looks complete
    assert not list((tmp_path / "out").rglob("*.tmp"))
    resumed = _run(_build_command(shared_data, tmp_path / "out"))
    assert resumed.returncode == 0, resumed.stderr
    fresh = _run(_build_command(shared_data, tmp_path / "fresh"))
    assert fresh.returncode == 0, fresh.stderr
    assert _tree(tmp_path / "out") == _tree(tmp_path / "fresh")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to run the build as the unprivileged user 'nobody'")
def test_permission_denied_as_unprivileged_user(shared_data: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    tmp_path.chmod(0o755)
    try:
        failed = _run(_build_command(shared_data, locked / "out"), user=65534)
    except PermissionError as error:
        pytest.skip(f"user 'nobody' cannot run this environment's interpreter ({error})")
    assert failed.returncode == EXIT_SYSTEM_ERROR
    line = _one_line(failed.stderr)
    assert "Permission denied" in line and str(locked) in line
    locked.chmod(0o755)
    assert _run(_build_command(shared_data, locked / "out")).returncode == 0
