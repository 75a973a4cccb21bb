"""Which samples a training run may see: the one decision every training reader consults.

A sample is trainable when its split is one the run trains on and de-duplication did not
remove it. ``rsvl build dedup`` writes ``removed.json`` into a training dataset's root (the
folder holding ``records.jsonl``, ``shards/`` and ``parquet/``); :func:`training_filter` finds
that root from whatever path a run reads (``ROOT/shards``, ``ROOT/shards/train``,
``ROOT/parquet/train.parquet``, ``ROOT``) and returns a :class:`SampleFilter` that the shard,
Parquet and mixture readers apply to every sample. :func:`count_exclusions` counts what a
filter keeps out, for the run's start log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rsvl.data.atomic import read_json
from rsvl.data.records import RECORDS_FILE
from rsvl.errors import InputError

REMOVED_FILE = "removed.json"
# How far above a read path (a shard folder, a split folder, a Parquet file) the dataset root
# may lie: ROOT/shards/train/ is two levels down.
_ROOT_DEPTH = 3


def read_removed(root: str | Path) -> set[str]:
    """Keys listed in a dataset's ``removed.json`` (empty when de-duplication never ran)."""
    removed_path = Path(root) / REMOVED_FILE
    if not removed_path.is_file():
        return set()
    try:
        removed = read_json(removed_path)["removed"]
    except (InputError, KeyError, TypeError):
        raise InputError(
            f"{removed_path} is malformed; rerun rsvl build dedup to rewrite it"
        ) from None
    return set(removed)


def dataset_root(path: str | Path) -> Path | None:
    """The dataset root a read path belongs to: the nearest folder at or above it (at most
    two levels up) holding ``records.jsonl`` or ``removed.json``; None for a bare shard folder
    or Parquet file that belongs to no dataset."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    for candidate in [folder, *folder.parents][:_ROOT_DEPTH]:
        if (candidate / RECORDS_FILE).is_file() or (candidate / REMOVED_FILE).is_file():
            return candidate
    return None


@dataclass(frozen=True)
class SampleFilter:
    """Whether a training run may see a sample.

    Attributes:
        splits: The splits trained on; empty trains on every split. A sample whose split is
            unknown (shards of another tool, without a ``.json`` record) passes this test.
        removed: Keys de-duplication removed (from ``removed.json``).
        removed_file: The ``removed.json`` applied, if any.
    """

    splits: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    removed_file: Path | None = None

    def accepts(self, key: str | None, split: str | None) -> bool:
        """Whether the sample ``key`` of ``split`` may be trained on."""
        if key in self.removed:
            return False
        return not self.splits or split is None or split in self.splits


def training_filter(path: str | Path, splits: Sequence[str]) -> SampleFilter:
    """The filter for a run reading ``path`` (a dataset root or anything inside it).

    Args:
        path: What the run reads: a dataset root, a shard folder, a split's shard folder or a
            Parquet file.
        splits: The splits trained on (empty: all).

    Raises:
        InputError: The dataset's ``removed.json`` is malformed.
    """
    root = dataset_root(path)
    removed = frozenset(read_removed(root)) if root is not None else frozenset()
    removed_file = root / REMOVED_FILE if root is not None and removed else None
    return SampleFilter(frozenset(s for s in splits if s), removed, removed_file)


@dataclass(frozen=True)
class ExclusionCounts:
    """What a filter kept out of one dataset.

    Attributes:
        name: The dataset (or path) counted.
        seen: Samples listed.
        other_split: Samples of a split the run does not train on.
        removed: Samples of a trained split listed in ``removed.json``.
    """

    name: str
    seen: int
    other_split: int
    removed: int

    @property
    def kept(self) -> int:
        """Samples the run may train on."""
        return self.seen - self.other_split - self.removed

    def describe(self) -> str:
        """One line for the start log."""
        return (f"{self.name}: {self.kept} training samples of {self.seen} "
                f"(excluded: {self.other_split} of other splits, {self.removed} removed by "
                "de-duplication)")


def count_exclusions(name: str, sample_filter: SampleFilter,
                     samples: Iterable[tuple[str, str | None]]) -> ExclusionCounts:
    """Count what ``sample_filter`` keeps out of ``(key, split)`` pairs."""
    seen = other = removed = 0
    for key, split in samples:
        seen += 1
        if sample_filter.splits and split is not None and split not in sample_filter.splits:
            other += 1
        elif key in sample_filter.removed:
            removed += 1
    return ExclusionCounts(name, seen, other, removed)
