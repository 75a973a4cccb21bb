"""Operating-system errors reach the user as one line with the path and the fix (exit 3), and
the same command completes afterwards. Each is provoked for real in a subprocess."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import sys
import time
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


def _namespaced(script: str) -> subprocess.CompletedProcess[str]:
    """Run a shell script as root of a new user and mount namespace (its own tmpfs mounts)."""
    return subprocess.run(["unshare", "--map-root-user", "--mount", "sh", "-c", script],
                          capture_output=True, text=True, check=False, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def _can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = _namespaced("mount -t tmpfs tmpfs /mnt")
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(
    not _can_mount(), reason="needs `unshare --map-root-user --mount` (user namespaces) to "
    "mount a small or read-only tmpfs")


def _fail_then_resume(shared_data: Path, tmp_path: Path, break_it: str,
                      repair_it: str) -> tuple[str, str, Path]:
    """In a namespace: build on a broken tmpfs, repair it, build again; copy the result out."""
    mount, resumed = tmp_path / "mount", tmp_path / "resumed"
    mount.mkdir()
    build = " ".join(_build_command(shared_data, mount / "out"))
    script = (f"mount -t tmpfs {break_it} tmpfs {mount} || exit 90\n"
              f"{build} >/dev/null 2>{tmp_path / 'failed.err'}; echo $? >{tmp_path / 'failed.rc'}\n"
              f"find {mount / 'out'} -name '*.tmp' -o -name manifest.json >{tmp_path / 'left'}\n"
              f"mount -o remount,{repair_it} {mount} || exit 91\n"
              f"{build} >/dev/null 2>{tmp_path / 'resumed.err'} || exit 92\n"
              f"cp -a {mount / 'out'} {resumed}\n")
    done = _namespaced(script)
    assert done.returncode == 0, (done.returncode, (tmp_path / "resumed.err").read_text()
                                  if (tmp_path / "resumed.err").exists() else done.stderr)
    assert (tmp_path / "failed.rc").read_text().strip() == str(EXIT_SYSTEM_ERROR)
    assert (tmp_path / "left").read_text() == ""  # no temporaries, nothing looks complete
    return _one_line((tmp_path / "failed.err").read_text()), str(mount / "out"), resumed


def _fresh(shared_data: Path, tmp_path: Path) -> Path:
    fresh = tmp_path / "fresh"
    done = _run(_build_command(shared_data, fresh))
    assert done.returncode == 0, done.stderr
    return fresh


@needs_mount
@pytest.mark.parametrize(("broken", "repaired", "reason", "fix"), [
    # 400 KiB: the OSM features and the first chips fit, the build's 1.7 MB do not
    ("-o size=400k", "size=64m", "No space left on device", "the disk is full"),
    ("-o ro", "rw", "Read-only file system", "write the output somewhere else"),
], ids=["disk-full", "read-only"])
def test_mounted_file_system_fault_then_resume_is_identical(
        shared_data: Path, tmp_path: Path, broken: str, repaired: str, reason: str,
        fix: str) -> None:
    line, out, resumed = _fail_then_resume(shared_data, tmp_path, broken, repaired)
    assert line.startswith(f"rsvl build: system error: {reason}: {out}") and fix in line
    assert _tree(resumed) == _tree(_fresh(shared_data, tmp_path))


def test_too_many_open_files_then_resume(shared_data: Path, tmp_path: Path) -> None:
    # The limit is set once rsvl.cli is imported: exactly the descriptors open then, so the
    # command fails at the first file it opens beyond them (a module it imports, or an output).
    command = _build_command(shared_data, tmp_path / "out")
    starter = ("import os, resource, sys\nfrom rsvl.cli import main\n"
               "held = len(os.listdir('/proc/self/fd'))\n"
               "resource.setrlimit(resource.RLIMIT_NOFILE, "
               "(held, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
               "sys.exit(main(sys.argv[1:]))\n")
    failed = _run([sys.executable, "-c", starter, *command[3:]])
    assert failed.returncode == EXIT_SYSTEM_ERROR, failed.stderr
    line = _one_line(failed.stderr)
    assert line.startswith("rsvl build: system error: Too many open files: ")
    assert "ulimit -n" in line
    assert not (tmp_path / "out" / "manifest.json").exists()
    resumed = _run(command)
    assert resumed.returncode == 0, resumed.stderr
    assert _tree(tmp_path / "out") == _tree(_fresh(shared_data, tmp_path))


def test_input_vanishing_during_an_import_then_rerun(tmp_path: Path) -> None:
    from PIL import Image

    source = tmp_path / "classes"
    for index in range(3000):  # enough that the import is still storing images when they go
        folder = source / ("red" if index % 2 else "blue")
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (index % 256, index // 256, 7)).save(folder / f"{index}.png")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "rsvl", "build", "import", str(source), "--format", "folder",
               "--out", str(out), "--name", "colours", "--licence", "CC0-1.0"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=env)
    moved = tmp_path / "moved"
    while job.poll() is None and not any((out / "images").glob("*.png")):
        time.sleep(0.002)
    source.rename(moved)  # the input vanishes as the first image is stored
    _, stderr = job.communicate(timeout=600)
    assert job.returncode == EXIT_SYSTEM_ERROR, stderr
    line = _one_line(stderr)
    assert "No such file or directory" in line and str(source) in line and "vanished" in line
    assert not (out / "manifest.json").exists()
    moved.rename(source)
    assert _run(command).returncode == 0
    fresh = _run([*command[:command.index("--out") + 1], str(tmp_path / "fresh"),
                  *command[command.index("--out") + 2:]])
    assert fresh.returncode == 0, fresh.stderr
    assert _tree(out).keys() == _tree(tmp_path / "fresh").keys()
    assert _tree(out) == _tree(tmp_path / "fresh")
