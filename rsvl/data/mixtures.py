"""Mixtures: several built or imported datasets sampled with weights, read by the trainer.

A mixture file is JSON; dataset paths are relative to the file's folder::

    {
      "name": "osm-plus-rsicd",
      "datasets": [
        {"path": "built/synthetic", "weight": 1.0},
        {"path": "imported/rsicd", "weight": 2.0, "splits": ["train", "val"], "name": "rsicd"}
      ]
    }

``splits`` defaults to ``["train"]``; only those splits' shard folders are read. Which samples
are sampled is decided by :mod:`rsvl.data.exclusions`, as for every training reader: a
dataset's ``removed.json`` (written by ``rsvl build dedup`` into its root) is always applied,
so images that duplicate an evaluation image are never sampled.

Two ways to read a mixture:

- :func:`iter_mixture` yields :class:`~rsvl.data.shards.ShardSample` objects forever, drawing
  each one's dataset at random with probability proportional to its weight (seeded, so
  deterministic). Each dataset is read as a shard folder is (:func:`iter_source`): pass after
  pass, its shards dealt to the ranks (each rank parses only its own shards, reshuffled every
  pass; with fewer shards than ranks each keeps every ``world_size``-th sample instead), its
  samples through a seeded shuffle buffer drained at each pass end;
- :meth:`MixtureSource.accepts` filters the samples of ``MixtureSource.shards`` for loaders
  that read the tars themselves (``webdataset.WebDataset(...).select(...)``), with
  ``MixtureSource.probability`` as the sampling weight.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rsvl.data.atomic import read_json
from rsvl.data.exclusions import (
    ExclusionCounts,
    SampleFilter,
    count_exclusions,
    training_filter,
)
from rsvl.data.records import RECORDS_FILE, SPLITS, read_records
from rsvl.data.shards import (
    SHARDS_DIR,
    ShardSample,
    iter_shard,
    list_shards,
    mixed_layout_warning,
    read_split_sizes,
    shard_folders_for,
)
from rsvl.data.shuffle import shuffled
from rsvl.errors import ConfigError, InputError

LOG = logging.getLogger(__name__)

_ENTRY_FIELDS = {"path", "weight", "splits", "name"}


@dataclass(frozen=True)
class MixtureSource:
    """One dataset of a mixture, resolved to its shards.

    Attributes:
        name: Dataset name (default: its folder name).
        root: Dataset root.
        weight: Sampling weight as written.
        probability: ``weight`` divided by the sum of the mixture's weights.
        splits: Splits sampled.
        shards: The complete shards of those splits, in order, less those that its folder's
            ``splits.json`` says hold none of them (so no rank is dealt only such shards).
        sample_filter: What may be sampled (splits, de-duplication removals).
        counts: What the filter keeps out of the dataset's records.
    """

    name: str
    root: Path
    weight: float
    probability: float
    splits: tuple[str, ...]
    shards: tuple[Path, ...]
    sample_filter: SampleFilter
    counts: ExclusionCounts

    @property
    def excluded(self) -> frozenset[str]:
        """Keys removed by de-duplication (from ``removed.json``)."""
        return self.sample_filter.removed

    @property
    def num_samples(self) -> int:
        """Samples that pass the split and exclusion filters."""
        return self.counts.kept

    def accepts(self, record: dict[str, Any]) -> bool:
        """Whether a sample's record (its ``.json``) belongs to this source's stream."""
        return self.sample_filter.accepts(record.get("key"), record.get("split"))


@dataclass(frozen=True)
class Mixture:
    """A resolved mixture file.

    Attributes:
        name: The mixture's name (default: the file's stem).
        path: The mixture file.
        sources: The datasets, in file order.
    """

    name: str
    path: Path
    sources: tuple[MixtureSource, ...]

    @property
    def num_samples(self) -> int:
        """Samples per pass over every source (the trainer's notion of an epoch)."""
        return sum(s.num_samples for s in self.sources)


def load_mixture(path: str | Path) -> Mixture:
    """Read and resolve a mixture file; one clear line for any mistake.

    Raises:
        InputError: The file, a dataset, its shards or records are missing or malformed.
        ConfigError: A weight, split or field is invalid, or a source has no samples left.
    """
    path = Path(path)
    payload = read_json(path, "mixture file")
    entries = payload.get("datasets") if isinstance(payload, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected a non-empty 'datasets' list of {{path, weight}}")
    parsed = [_parse_entry(path, index, entry) for index, entry in enumerate(entries)]
    total = sum(weight for _, weight, _, _ in parsed)
    sources = tuple(
        _resolve(path, root, weight, weight / total, splits, name)
        for root, weight, splits, name in parsed
    )
    return Mixture(str(payload.get("name") or path.stem), path, sources)


def _parse_entry(path: Path, index: int,
                 entry: Any) -> tuple[Path, float, tuple[str, ...], str | None]:
    where = f"{path}: datasets[{index}]"
    if not isinstance(entry, dict) or "path" not in entry:
        raise ConfigError(f"{where}: each dataset needs a 'path'")
    unknown = sorted(set(entry) - _ENTRY_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r}; fields: {sorted(_ENTRY_FIELDS)}")
    weight = entry.get("weight", 1.0)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
        raise ConfigError(f"{where}: weight must be a positive number, got {weight!r}")
    splits = entry.get("splits", ["train"])
    if not isinstance(splits, list) or not splits or any(s not in SPLITS for s in splits):
        raise ConfigError(f"{where}: splits must be a non-empty list of {list(SPLITS)}")
    return path.parent / str(entry["path"]), float(weight), tuple(splits), entry.get("name")


def _resolve(path: Path, root: Path, weight: float, probability: float,
             splits: tuple[str, ...], name: str | None) -> MixtureSource:
    if not root.is_dir():
        raise InputError(f"{path}: dataset folder not found: {root}")
    name = name or root.resolve().name
    sample_filter = training_filter(root, splits)
    counts = count_exclusions(name, sample_filter,
                              ((r.key, r.split) for r in read_records(root / RECORDS_FILE)))
    if counts.kept == 0:
        raise ConfigError(f"{path}: dataset {root} has no samples in splits {list(splits)}")
    folders = shard_folders_for(root / SHARDS_DIR, splits)
    for folder in folders:
        if warning := mixed_layout_warning(folder):
            LOG.warning(warning)
    shards = tuple(shard for folder in folders for shard in _holding(folder, splits))
    return MixtureSource(name, root, weight, probability, splits, shards, sample_filter, counts)


def _holding(folder: Path, splits: tuple[str, ...]) -> list[Path]:
    """The folder's shards, less those its ``splits.json`` lists without any of ``splits`` (an
    old mixed-split folder's test shards); a shard it does not list is kept."""
    counts = read_split_sizes(folder) or {}
    return [shard for shard in list_shards(folder)
            if shard.name not in counts or any(counts[shard.name].get(s) for s in splits)]


def iter_source(source: MixtureSource, seed: int = 0, rank: int = 0, world_size: int = 1,
                shuffle_buffer: int = 1000) -> Iterator[ShardSample]:
    """One source's accepted samples forever, pass after pass, read as a shard folder is.

    Ranks see disjoint samples:

    - with at least ``world_size`` shards they are dealt once, by a permutation seeded by
      ``seed`` alone (so the same on every rank): rank ``r`` owns shards ``r::world_size``,
      parses no other shard, and reads its own in a new seeded order every pass, so no two
      ranks ever share a sample;
    - with fewer shards than ranks every rank parses every shard, in an order shared by all and
      redrawn every pass, and keeps every ``world_size``-th accepted sample (counted across
      passes, so every rank gets samples): disjoint within a pass.

    Each pass goes through a seeded shuffle buffer of ``shuffle_buffer`` samples, drained at the
    end of the pass, so a pass yields each of the rank's accepted samples exactly once and
    consecutive samples are not neighbours in one shard. A new ``seed`` (the trainer's next
    epoch) deals anew.

    Raises:
        InputError: No shard holds an accepted sample (stale shards), or the rank's dealt
            shards hold none while others do (too few shards with samples for the ranks).
    """
    shards = source.shards
    dealt = len(shards) >= world_size
    order_rng = np.random.default_rng(seed)
    position = 0  # accepted samples met so far, for sharing samples when shards are not dealt

    def share(indices: np.ndarray) -> Iterator[ShardSample]:
        nonlocal position
        for index in indices:
            for sample in iter_shard(shards[index]):
                if source.accepts(sample.record):
                    if dealt or position % world_size == rank:
                        yield sample
                    position += 1

    owned = order_rng.permutation(len(shards))[rank::world_size]  # this rank's, when dealt
    pass_index = 0
    while True:
        start = position
        mine = (owned[order_rng.permutation(len(owned))] if dealt
                else order_rng.permutation(len(shards)))
        buffer_rng = random.Random(f"{seed}:{rank}:{pass_index}:buffer")
        yielded = 0
        for sample in shuffled(share(mine), shuffle_buffer, buffer_rng):
            yielded += 1
            yield sample
        pass_index += 1
        if yielded or (not dealt and position > start):
            continue
        # The pass accepted nothing, so every later pass would accept nothing either.
        if dealt and _holds_accepted(source, set(range(len(shards))) - set(mine)):
            raise InputError(
                f"dataset {source.name} ({source.root}): the {len(mine)} of its {len(shards)} "
                f"shards dealt to reader {rank} of {world_size} hold none of its accepted "
                "samples; use fewer processes or data.workers, or rebuild it with smaller "
                "shards")
        raise InputError(
            f"dataset {source.name} ({source.root}): its shards hold no "
            f"{'/'.join(source.splits)} sample although its records list "
            f"{source.num_samples}; rebuild its shards or drop it from the mixture")


def _holds_accepted(source: MixtureSource, indices: set[int]) -> bool:
    """Whether any of these shards of ``source`` holds a sample it accepts."""
    return any(source.accepts(sample.record)
               for index in sorted(indices) for sample in iter_shard(source.shards[index]))


def iter_mixture(mixture: Mixture, seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle_buffer: int = 1000) -> Iterator[ShardSample]:
    """Samples of the whole mixture forever: each draw picks a source by its probability.

    Each source is read by :func:`iter_source`: its shards dealt to ranks when it has enough,
    its samples through a shuffle buffer.

    Args:
        mixture: From :func:`load_mixture`.
        seed: The same seed gives the same sequence (per rank).
        rank: This process's rank (distributed training; the trainer passes its slot).
        world_size: Number of processes (the trainer: processes times workers).
        shuffle_buffer: Samples held in each source's shuffle buffer (1: shard order).
    """
    if not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} is outside 0..{world_size - 1}")
    streams = [iter_source(s, seed + i, rank, world_size, shuffle_buffer)
               for i, s in enumerate(mixture.sources)]
    probabilities = np.array([s.probability for s in mixture.sources])
    rng = np.random.default_rng(seed)
    while True:
        yield next(streams[int(rng.choice(len(streams), p=probabilities))])
