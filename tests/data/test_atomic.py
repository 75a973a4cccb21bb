"""Atomic writes: a file exists complete or not at all."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rsvl.data.atomic import atomic_open, remove_stale_temporaries, write_json


def test_write_json_is_sorted_and_creates_folders(tmp_path):
    path = tmp_path / "a" / "b.json"
    write_json(path, {"z": 1, "a": "é"})
    assert path.read_text(encoding="utf-8") == '{\n  "a": "é",\n  "z": 1\n}\n'
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": "é", "z": 1}


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(path, "w") as handle:
            handle.write("new, half written")
            raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_file_appears_only_when_complete(tmp_path):
    path = tmp_path / "data.bin"
    with atomic_open(path, "wb") as handle:
        handle.write(b"abc")
        assert not path.exists()
    assert path.read_bytes() == b"abc"


def test_read_json_round_trip_and_errors(tmp_path):
    from rsvl.data.atomic import read_json
    from rsvl.errors import InputError

    write_json(tmp_path / "a.json", {"k": [1, 2]})
    assert read_json(tmp_path / "a.json") == {"k": [1, 2]}
    with pytest.raises(InputError, match=r"mixture file not found: .*absent.json"):
        read_json(tmp_path / "absent.json", "mixture file")
    (tmp_path / "bad.json").write_text('{\n"k": [1,\n')
    with pytest.raises(InputError, match=r"bad.json: malformed JSON at line 3"):
        read_json(tmp_path / "bad.json")


def test_atomic_files_get_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_open(target) as handle:
        handle.write(b"x")
    current = os.umask(0)
    os.umask(current)
    assert target.stat().st_mode & 0o777 == 0o666 & ~current


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "chips" / "ab").mkdir(parents=True)
    stale_file = tmp_path / "chips" / "ab" / ".x-1.jpg.q8z1.tmp"
    stale_file.write_bytes(b"half")
    staging = tmp_path / ".shards.r4nd.tmp"  # an atomic_folder staging folder
    (staging / "inner").mkdir(parents=True)
    (staging / "inner" / ".00000.tar.k2.tmp").write_bytes(b"half")
    kept = [tmp_path / ".partitions" / "p0.jsonl", tmp_path / "notes.tmp",
            tmp_path / ".hidden.tmp", tmp_path / "chips" / "ab" / "x-1.jpg"]
    for path in kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"keep")
    assert remove_stale_temporaries(tmp_path) == 3
    assert not stale_file.exists() and not staging.exists()
    assert all(path.read_bytes() == b"keep" for path in kept)
    assert remove_stale_temporaries(tmp_path / "missing") == 0
