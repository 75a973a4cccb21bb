"""The manifest as the source of a rebuild: reading it, finding its inputs, checking them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.builders.manifest import (
    check_inputs,
    describe_inputs,
    read_manifest,
    rebuild_settings,
)
from rsvl.errors import InputError


def _manifest(tmp_path: Path, recorded: str) -> dict[str, object]:
    (tmp_path / "in").mkdir(exist_ok=True)
    (tmp_path / "in" / "a.osm").write_text("<osm/>")
    inputs = describe_inputs({"osm": tmp_path / "in" / "a.osm",
                              "imagery": "https://tiles.example.org/{z}/{x}/{y}.png"})
    return {"config": {"osm": recorded, "imagery": "https://tiles.example.org/{z}/{x}/{y}.png",
                       "seed": 1}, "inputs": inputs}


def test_relative_inputs_keep_their_spelling_only_where_they_still_lead_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    manifest = _manifest(tmp_path, "in/a.osm")
    assert rebuild_settings(manifest)["osm"] == "in/a.osm"  # same directory: same config
    monkeypatch.chdir(tmp_path / "in")
    settings = rebuild_settings(manifest)
    assert settings["osm"] == str((tmp_path / "in" / "a.osm").resolve())
    assert settings["imagery"] == "https://tiles.example.org/{z}/{x}/{y}.png"
    assert settings["seed"] == 1


def test_inputs_are_checked_against_their_recorded_checksums(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, "in/a.osm")
    osm = str(tmp_path / "in" / "a.osm")
    remote = "https://tiles.example.org/{z}/{x}/{y}.png"  # not hashed, not checked
    check_inputs(manifest, {"osm": osm, "imagery": remote}, "m.json")
    (tmp_path / "in" / "a.osm").write_text("<osm></osm>")
    with pytest.raises(InputError, match=r"m.json: osm input .* changed since"):
        check_inputs(manifest, {"osm": osm}, "m.json")
    with pytest.raises(InputError, match=r"is gone; point to its copy with --set osm=PATH"):
        check_inputs(manifest, {"osm": str(tmp_path / "moved.osm")}, "m.json")


def test_read_manifest_takes_the_folder_or_the_file(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(_manifest(tmp_path, "x")))
    assert read_manifest(tmp_path)[0] == read_manifest(tmp_path / "manifest.json")[0]
    (tmp_path / "manifest.json").write_text(json.dumps({"command": []}))
    with pytest.raises(InputError, match="not an rsvl dataset manifest"):
        read_manifest(tmp_path)
    with pytest.raises(InputError, match="no such manifest"):
        read_manifest(tmp_path / "nothing")
