"""The manifest: where a built dataset came from and what went into it.

``OUT/manifest.json`` records the command, the configuration, every input with its sha256
checksum, the counts (kept per split, rejected per reason), the OSM attribution, the imagery
licence and the rsvl version, so a dataset can be traced and rebuilt without its builder.
The configuration is the build config's full ``to_dict()``, so :func:`rebuild_settings` gives
back everything a rebuild needs (``rsvl build --from-manifest``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rsvl import __version__
from rsvl.data.atomic import read_json, write_json
from rsvl.data.records import OSM_ATTRIBUTION
from rsvl.errors import InputError

MANIFEST_FILE = "manifest.json"
_CHUNK = 1 << 20


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: str | Path) -> str:
    """Checksum of an input file, or of a folder (a tile pyramid) as a whole.

    A folder's checksum hashes every file's relative path and checksum, in sorted order, so it
    changes when any tile is added, removed or altered.
    """
    path = Path(path)
    if path.is_file():
        return _file_sha256(path)
    digest = hashlib.sha256()
    for member in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{member.relative_to(path).as_posix()}\0{_file_sha256(member)}\n".encode())
    return digest.hexdigest()


def describe_inputs(inputs: Mapping[str, str | Path | None]
                    ) -> dict[str, dict[str, str | None]]:
    """Role -> ``{"path", "sha256"}`` for each given input (``None`` inputs are skipped).

    Remote inputs (URLs, tile URL templates, GDAL ``/vsi...`` paths) are named as given and
    not hashed (``"sha256": null``): hashing would download them whole.
    """
    return {
        role: {"path": str(path), "sha256": None} if _is_remote(str(path))
        else {"path": str(Path(path).resolve()), "sha256": sha256_of(path)}
        for role, path in inputs.items()
        if path is not None
    }


def _is_remote(path: str) -> bool:
    return "://" in path or path.startswith("/vsi")


def write_manifest(root: Path, *, command: list[str], config: Mapping[str, Any],
                   inputs: Mapping[str, Any], counts: Mapping[str, Any],
                   rejected: Mapping[str, int], imagery_licence: str | None,
                   extra: Mapping[str, Any] | None = None,
                   osm_attribution: str | None = OSM_ATTRIBUTION) -> dict[str, Any]:
    """Write ``root/manifest.json`` atomically and return its content.

    Args:
        root: Dataset root.
        command: The command line that made the dataset.
        config: The build configuration (JSON-serialisable).
        inputs: Output of :func:`describe_inputs`.
        counts: Kept samples (total and per split, or per class).
        rejected: Rejected focus objects per reason.
        imagery_licence: The imagery's licence (``None`` for text-only builds).
        extra: Further fields (stretch rules, shard count...).
        osm_attribution: The OSM attribution; ``None`` for datasets built without OSM data.
    """
    manifest = {
        "rsvl_version": __version__,
        "command": command,
        "config": dict(config),
        "inputs": dict(inputs),
        "counts": dict(counts),
        "rejected": dict(sorted(rejected.items())),
        "osm_attribution": osm_attribution,
        "imagery_licence": imagery_licence,
        **dict(extra or {}),
    }
    write_json(root / MANIFEST_FILE, manifest)
    return manifest


def read_manifest(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """A dataset's manifest: ``path`` is the dataset folder or its ``manifest.json``.

    Returns:
        The manifest file and its content.

    Raises:
        InputError: No manifest there, or not one written by :func:`write_manifest`.
    """
    path = Path(path)
    file = path / MANIFEST_FILE if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"{file}: no such manifest (give a dataset folder or its {MANIFEST_FILE})")
    manifest = read_json(file, "manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict) \
            or not isinstance(manifest.get("inputs"), dict):
        raise InputError(f"{file}: not an rsvl dataset manifest (no config and inputs)")
    return file, manifest


def rebuild_settings(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded build config, with each input where the build read it.

    A config may name its inputs relative to the directory the build ran in; ``inputs`` holds
    them resolved (its roles are the config's keys: ``osm``, ``imagery``). An input keeps its
    recorded spelling where that still leads to the same file (so a rebuild from the same
    directory records the same config), and takes the resolved path otherwise, so a rebuild
    finds it from anywhere. Remote inputs stay as given.
    """
    settings = dict(manifest["config"])
    for role, entry in manifest["inputs"].items():
        if role not in settings or not isinstance(entry, dict) or not entry.get("path"):
            continue
        recorded = str(settings[role])
        if _is_remote(recorded) or Path(recorded).resolve() != Path(entry["path"]):
            settings[role] = entry["path"]
    return settings


def check_inputs(manifest: Mapping[str, Any], paths: Mapping[str, str], origin: str) -> None:
    """Refuse inputs whose checksum differs from the one the manifest recorded.

    Args:
        manifest: The dataset's manifest.
        paths: Role -> the input about to be read (``osm``, ``imagery``).
        origin: The manifest file, for the message.

    Raises:
        InputError: An input is missing or changed since the dataset was built.
    """
    for role, entry in manifest["inputs"].items():
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        path = paths.get(role)
        if expected is None or path is None or _is_remote(path):
            continue
        if not Path(path).exists():
            raise InputError(f"{origin}: {role} input {path} is gone; point to its copy with "
                             f"--set {role}=PATH")
        if sha256_of(path) != expected:
            raise InputError(f"{origin}: {role} input {path} changed since the dataset was built "
                             "(sha256 differs), so the rebuild would differ")
