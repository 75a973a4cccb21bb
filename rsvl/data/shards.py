"""WebDataset shards: ``{00000..N}.tar`` with ``{key}.jpg``, ``{key}.txt``, ``{key}.json``.

A dataset keeps one shard folder per split, ``ROOT/shards/{train,val,test}/``, so a WebDataset
reader pointed at the training folder can only read training samples. Each folder is the layout
open_clip's own trainer reads as it is (``--train-data "ROOT/shards/train/{00000..00009}.tar"
--dataset-type webdataset``; ``sizes.json`` beside the tars gives the sample counts). ``.txt``
holds the primary caption, ``.json`` the whole record (all captions, tags, footprint...).
``splits.json`` counts each shard's samples per split (``{"00000.tar": {"train": 430}}``);
builds before the per-split layout wrote every split into one folder, which only rsvl's own
readers (filtering by split) keep apart: :func:`mixed_splits` spots such a folder and
``rsvl build reshard ROOT`` rewrites it. Each tar is written to a temporary name and renamed
when complete, and both files are rewritten after every shard, so an interrupted writer leaves
only complete shards.

Two readers share one grouping (:func:`iter_members`) and one image-extension list
(:data:`IMAGE_EXTENSIONS`): :func:`iter_shard` is strict (a broken member is an
:class:`~rsvl.errors.InputError`), :func:`stream_shard` marks broken samples and goes on
(training counts them).
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsvl.data.atomic import atomic_open, write_json
from rsvl.data.records import SPLITS, Record
from rsvl.errors import ConfigError, InputError

LOG = logging.getLogger(__name__)
SHARDS_DIR = "shards"  # a dataset root's shard folder
SIZES_FILE = "sizes.json"
SPLITS_FILE = "splits.json"
REGIONS_MEMBER = "regions.json"  # a sample's region-text pairs (rsvl.builders.regions)
# The image members every rsvl reader accepts, in the order one is picked when a sample has
# several (webdataset's own decoders know these names).
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "tif", "tiff")


def shard_name(index: int) -> str:
    """File name of shard ``index`` (``00003.tar``)."""
    return f"{index:05d}.tar"


def brace_pattern(shard_dir: str | Path, count: int) -> str:
    """The brace-expansion URL open_clip and webdataset accept for ``count`` shards."""
    return str(Path(shard_dir) / f"{{{0:05d}..{count - 1:05d}}}.tar")


@dataclass
class ShardSample:
    """One decoded-enough sample: encoded image bytes plus its record."""

    key: str
    image: bytes
    image_ext: str
    record: dict[str, Any]

    @property
    def caption(self) -> str:
        """The primary caption (the ``.txt`` member)."""
        return str(self.record["captions"][0])


class ShardWriter:
    """Write samples into size-bounded shards, each renamed into place when complete.

    Args:
        shard_dir: Output folder.
        max_samples: Samples per shard.
        start_index: First shard index (a resumed writer continues after existing shards).
    """

    def __init__(self, shard_dir: str | Path, max_samples: int = 1000, start_index: int = 0):
        if max_samples < 1:
            raise ConfigError(f"shard size must be at least 1, got {max_samples}")
        self.shard_dir = Path(shard_dir)
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        self.max_samples = max_samples
        self.index = start_index
        self.sizes: dict[str, int] = read_sizes(self.shard_dir, missing_ok=True)
        self.splits: dict[str, dict[str, int]] = read_split_sizes(self.shard_dir) or {}
        self._pending: list[tuple[Record, bytes, str]] = []

    def write(self, record: Record, image: bytes, image_ext: str = "jpg") -> None:
        """Queue one sample; a full shard is flushed to disk."""
        self._pending.append((record, image, image_ext))
        if len(self._pending) >= self.max_samples:
            self.flush()

    def flush(self) -> None:
        """Write queued samples as one complete shard."""
        if not self._pending:
            return
        name = shard_name(self.index)
        with atomic_open(self.shard_dir / name, "wb") as handle:
            with tarfile.open(fileobj=handle, mode="w") as tar:
                for record, image, ext in self._pending:
                    payload = record.to_json()
                    _add_member(tar, f"{record.key}.{ext}", image)
                    _add_member(tar, f"{record.key}.txt", record.captions[0].encode())
                    _add_member(tar, f"{record.key}.json", payload.encode())
                    if "regions" in record.extra:  # region-text pairs (rsvl.builders.regions)
                        _add_member(tar, f"{record.key}.{REGIONS_MEMBER}",
                                    json.dumps(record.extra["regions"]).encode())
        self.sizes[name] = len(self._pending)
        counts = Counter(record.split for record, _, _ in self._pending)
        self.splits[name] = dict(sorted(counts.items()))
        write_json(self.shard_dir / SPLITS_FILE, self.splits)
        write_json(self.shard_dir / SIZES_FILE, self.sizes)
        self._pending = []
        self.index += 1

    def close(self) -> None:
        """Flush the last, possibly partial, shard."""
        self.flush()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        # On error keep only the complete shards already renamed into place.
        if exc_type is None:
            self.close()


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def read_sizes(shard_dir: str | Path, missing_ok: bool = False) -> dict[str, int]:
    """Read ``sizes.json`` (shard name -> sample count)."""
    path = Path(shard_dir) / SIZES_FILE
    if not path.is_file():
        if missing_ok:
            return {}
        raise InputError(f"{path} not found: {shard_dir} is not an rsvl shard folder")
    try:
        sizes = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: malformed JSON ({error.msg}); rebuild the shards") from None
    return {str(name): int(count) for name, count in sizes.items()}


def read_split_sizes(shard_dir: str | Path) -> dict[str, dict[str, int]] | None:
    """Read ``splits.json`` (shard name -> split -> sample count); None for shard folders
    written without one (older builds, other tools)."""
    path = Path(shard_dir) / SPLITS_FILE
    if not path.is_file():
        return None
    try:
        splits = json.loads(path.read_text())
        return {str(name): {str(k): int(v) for k, v in counts.items()}
                for name, counts in splits.items()}
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        raise InputError(f"{path}: malformed split counts; rebuild the shards or delete the "
                         "file (epochs are then counted over every split)") from None


def split_folders(shards_root: str | Path) -> dict[str, Path]:
    """Split -> shard folder of a per-split layout (``shards/train/`` ...), for the splits
    present; empty for a folder of tars (an old mixed-split folder, another tool's)."""
    root = Path(shards_root)
    return {split: root / split for split in SPLITS if (root / split / SIZES_FILE).is_file()}


def mixed_splits(shard_dir: str | Path) -> list[str]:
    """The splits a single shard folder holds when it holds more than one (the layout before
    per-split folders), else an empty list."""
    counts = read_split_sizes(shard_dir) or {}
    present = sorted({split for shard in counts.values() for split, n in shard.items() if n})
    return present if len(present) > 1 else []


def shard_folders_for(path: str | Path, splits: Sequence[str] = ()) -> list[Path]:
    """The shard folders that hold ``splits`` (empty: every split) under ``path``.

    ``path`` is a dataset's ``shards/`` in the per-split layout (its split folders are
    chosen), or one shard folder (a split's, an old mixed-split one, another tool's: returned
    as it is, its readers filter by split).

    Raises:
        InputError: ``path`` is no shard folder, or its layout has none of ``splits``.
    """
    path = Path(path)
    folders = split_folders(path)
    if not folders:
        read_sizes(path)  # one clear line when this is no shard folder at all
        return [path]
    chosen = [folders[s] for s in SPLITS if s in folders and (not splits or s in splits)]
    if not chosen:
        raise InputError(f"{path} has no {'/'.join(splits)} shards (it has "
                         f"{', '.join(folders)}); choose one of those splits")
    return chosen


def mixed_layout_warning(shard_dir: str | Path) -> str | None:
    """One line for a shard folder that holds several splits, naming the command that
    rewrites it per split; None for a folder that holds one."""
    splits = mixed_splits(shard_dir)
    if not splits:
        return None
    return (f"{shard_dir} holds the {'/'.join(splits)} splits in one folder (the layout before "
            "per-split shards): rsvl reads only the split it trains on, but any other "
            f"WebDataset reader reads them all; rewrite it with `rsvl build reshard {shard_dir}`")


def list_shards(shard_dir: str | Path) -> list[Path]:
    """The complete shards of a folder, in order, as listed by ``sizes.json``."""
    shard_dir = Path(shard_dir)
    paths = [shard_dir / name for name in sorted(read_sizes(shard_dir))]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"shard {shard_dir / missing[0]} is listed in sizes.json but missing")
    return paths


class ShardTruncatedError(InputError):
    """A tar that ends early or is corrupt (the streaming reader stops at it)."""


def iter_members(path: str | Path) -> Generator[tuple[str, dict[str, bytes]], None, None]:
    """WebDataset grouping, streamed: ``(key, {ext: bytes})`` for each run of consecutive
    members sharing a key (the member name up to its first dot).

    Raises:
        InputError: The shard is missing.
        ShardTruncatedError: The tar ends early or is corrupt (samples before it were yielded).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"shard not found: {path}")
    key, members = "", dict[str, bytes]()
    try:
        with tarfile.open(path, mode="r|") as tar:
            for member in tar:
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is None:
                    continue
                name_key, _, ext = member.name.rpartition("/")[2].partition(".")
                if name_key != key and members:
                    yield key, members
                    members = {}
                key = name_key
                members[ext] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ShardTruncatedError(
            f"shard {path} is corrupt or truncated ({error}); rebuild it") from None
    if members:
        yield key, members


def image_member(members: dict[str, bytes]) -> str | None:
    """The extension of a sample's image member (first of :data:`IMAGE_EXTENSIONS`), if any."""
    return next((ext for ext in IMAGE_EXTENSIONS if ext in members), None)


def iter_shard(path: str | Path) -> Iterator[ShardSample]:
    """Strict reading: samples of one tar in order; a truncated or corrupt tar, or a sample
    without an image or a readable ``.json`` record, raises naming the file."""
    for key, members in iter_members(path):
        image_ext = image_member(members)
        if image_ext is None or "json" not in members:
            raise InputError(f"shard {path}: sample {key!r} lacks an image or its .json record")
        try:
            record = json.loads(members["json"])
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"shard {path}: sample {key!r} has a malformed .json record; "
                             "rebuild the shard") from None
        yield ShardSample(key, members[image_ext], image_ext, record)


@dataclass
class StreamSample:
    """A sample as the streaming reader sees it: ``None`` image or captions mark it corrupt.

    Attributes:
        key: The sample's key.
        image: Encoded image bytes, or None (no image member, or a truncated shard).
        captions: All captions (the record's, else the ``.txt``), or None when unreadable.
        split: The record's split; None when unknown (no ``.json``: another tool's shards).
        long_captions: The record's long descriptions (``extra.long_captions``); empty when
            it has none (an older build, another tool's shards).
        regions: The ``regions.json`` member (region-text pairs, undecoded); None when the
            sample has none.
    """

    key: str
    image: bytes | None
    captions: list[str] | None
    split: str | None = None
    long_captions: list[str] = field(default_factory=list)
    regions: bytes | None = None


def long_captions_of(extra: object) -> list[str]:
    """The long descriptions in a record's ``extra`` (``long_captions``), or none when it
    holds no list of strings: a missing or malformed field never makes a sample corrupt."""
    found = extra.get("long_captions") if isinstance(extra, dict) else None
    if not isinstance(found, list) or not all(isinstance(c, str) for c in found):
        return []
    return [c for c in found if c]


def stream_sample(key: str, members: dict[str, bytes]) -> StreamSample:
    """One grouped sample in streaming form, never raising: broken parts become ``None``."""
    image_ext = image_member(members)
    captions: list[str] | None = None
    split = None
    long_captions: list[str] = []
    try:
        if "json" in members:
            record = json.loads(members["json"])
            captions, split = [str(c) for c in record["captions"]], record.get("split")
            long_captions = long_captions_of(record.get("extra"))
        elif "txt" in members:
            captions = [members["txt"].decode("utf-8")]
    except (ValueError, KeyError, TypeError, AttributeError):
        captions = None
    return StreamSample(key, members[image_ext] if image_ext else None, captions or None, split,
                        long_captions, members.get(REGIONS_MEMBER))


def stream_shard(path: str | Path) -> Iterator[StreamSample]:
    """Streaming reading (training): every sample, broken ones marked instead of raising; a
    tar that ends early yields one corrupt mark (key ``NAME:truncated``) and stops, logged.

    Raises:
        InputError: The shard is missing.
    """
    path = Path(path)
    try:
        for key, members in iter_members(path):
            yield stream_sample(key, members)
    except ShardTruncatedError as error:
        LOG.warning("%s; the rest of it is skipped", error)
        yield StreamSample(f"{path.name}:truncated", None, None)


def read_member(shard: str | Path, member: str) -> bytes:
    """The bytes of one named member (``KEY.jpg``) of a shard, by random access.

    Raises:
        InputError: The shard is missing, corrupt, or lacks the member.
    """
    try:
        with tarfile.open(shard) as tar:
            handle = tar.extractfile(member)
            if handle is None:
                raise KeyError(member)
            return handle.read()
    except (KeyError, tarfile.TarError, OSError) as error:
        raise InputError(f"{shard}: cannot read member {member} ({error}); the shard changed "
                         "since it was listed (an image index: rebuild the index)") from None
