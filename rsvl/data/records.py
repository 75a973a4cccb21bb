"""The record: one JSON line per chip (or imported image), the contract every stage reads.

A records file (``records.jsonl``) sits at the root of a built dataset; image paths are
relative to that root. The same fields travel inside each WebDataset sample's ``.json``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsvl.data.atomic import atomic_open
from rsvl.errors import InputError

SPLITS = ("train", "val", "test")
RECORDS_FILE = "records.jsonl"
OSM_ATTRIBUTION = "(c) OpenStreetMap contributors, ODbL-1.0"
# WebDataset splits a member name at its first dot, so keys must not contain one.
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass
class Record:
    """One image with its captions and provenance.

    Attributes:
        key: Unique id within the dataset; letters, digits, ``_`` and ``-`` only.
        image: Image path relative to the dataset root.
        captions: One or more captions; the first is the primary one.
        split: ``train``, ``val`` or ``test``.
        source: Where the image and captions came from (builder or dataset name).
        licence: Licence of the image and captions (OSM attribution included where used).
        osm_ids: OSM objects in the chip, focus object first (``way/123``).
        tags: Cleaned tags of the focus object.
        footprint: ``[minx, miny, maxx, maxy]`` of the chip in ``crs``.
        crs: The footprint's CRS (``EPSG:32633``).
        gsd_m: Ground sample distance of the chip in metres per pixel.
        extra: Any further source-specific fields.
    """

    key: str
    image: str
    captions: list[str]
    split: str
    source: str
    licence: str
    osm_ids: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    footprint: list[float] | None = None
    crs: str | None = None
    gsd_m: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _KEY_PATTERN.match(self.key):
            raise InputError(
                f"record key {self.key!r} is invalid: use letters, digits, '_' and '-' only"
            )
        if self.split not in SPLITS:
            raise InputError(
                f"record {self.key}: unknown split {self.split!r}; expected one of {SPLITS}"
            )
        if not self.captions or not all(c.strip() for c in self.captions):
            raise InputError(f"record {self.key}: empty caption; every record needs captions")

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain JSON-serialisable dict (a deep copy: safe to change)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The record as one line of key-sorted JSON (what records.jsonl and shards hold).

        Serialises the fields directly: ``to_dict``'s deep copy cost more than the JSON itself.
        """
        fields = {name: getattr(self, name) for name in _FIELD_NAMES}
        return json.dumps(fields, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Record:
        """Build a record from a dict, rejecting unknown or missing fields with one line."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(payload) - names)
        if unknown:
            raise InputError(f"record has unknown fields {unknown}; known fields: {sorted(names)}")
        try:
            return cls(**payload)
        except TypeError as error:
            raise InputError(f"record {payload.get('key', '?')} is incomplete: {error}") from None


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Record))


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write records as JSON lines, atomically; returns how many were written."""
    count = 0
    with atomic_open(path, "w") as handle:
        for record in records:
            handle.write(record.to_json() + "\n")
            count += 1
    return count


def read_records(path: str | Path) -> Iterator[Record]:
    """Read a records file, naming the file and line of any malformed entry."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"records file not found: {path}; build a dataset first (rsvl build)")
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                payload = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}: malformed JSON ({error.msg})") from None
            if not isinstance(payload, dict):
                raise InputError(f"{path}:{number}: expected a JSON object per line")
            try:
                record = Record.from_dict(payload)
            except InputError as error:
                raise InputError(f"{path}:{number}: {error}") from None
            if record.key in seen:
                raise InputError(f"{path}:{number}: duplicated key {record.key!r}")
            seen.add(record.key)
            yield record
