"""The manifest: where a built dataset came from and what went into it.

``OUT/manifest.json`` records the command, the configuration, every input with its sha256
checksum, the counts (kept per split, rejected per reason), the OSM attribution, the imagery
licence and the rsvl version, so a dataset can be traced and rebuilt without its builder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rsvl import __version__
from rsvl.data.atomic import write_json
from rsvl.data.records import OSM_ATTRIBUTION

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
