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
  deterministic), each dataset cycling through its shards in a reshuffled order per pass;
- :meth:`MixtureSource.accepts` filters the samples of ``MixtureSource.shards`` for loaders
  that read the tars themselves (``webdataset.WebDataset(...).select(...)``), with
  ``MixtureSource.probability`` as the sampling weight.
"""

from __future__ import annotations

import logging
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
    shard_folders_for,
)
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
        shards: The complete shards of those splits, in order.
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
    shards = tuple(shard for folder in folders for shard in list_shards(folder))
    return MixtureSource(name, root, weight, probability, splits, shards, sample_filter, counts)


def iter_source(source: MixtureSource, seed: int = 0, rank: int = 0,
                world_size: int = 1) -> Iterator[ShardSample]:
    """One source's accepted samples forever, shard order reshuffled on every pass.

    With ``world_size > 1`` rank ``r`` keeps every ``world_size``-th accepted sample, so ranks
    see disjoint samples.
    """
    rng = np.random.default_rng(seed)
    position = 0
    while True:
        start = position
        for shard_index in rng.permutation(len(source.shards)):
            for sample in iter_shard(source.shards[shard_index]):
                if not source.accepts(sample.record):
                    continue
                if position % world_size == rank:
                    yield sample
                position += 1
        if position == start:  # a whole pass accepted nothing: every later pass would hang too
            raise InputError(
                f"dataset {source.name} ({source.root}): its shards hold no "
                f"{'/'.join(source.splits)} sample although its records list "
                f"{source.num_samples}; rebuild its shards or drop it from the mixture")


def iter_mixture(mixture: Mixture, seed: int = 0, rank: int = 0,
                 world_size: int = 1) -> Iterator[ShardSample]:
    """Samples of the whole mixture forever: each draw picks a source by its probability.

    Args:
        mixture: From :func:`load_mixture`.
        seed: The same seed gives the same sequence.
        rank: This process's rank (distributed training).
        world_size: Number of processes.
    """
    if not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} is outside 0..{world_size - 1}")
    streams = [iter_source(s, seed + i, rank, world_size) for i, s in enumerate(mixture.sources)]
    probabilities = np.array([s.probability for s in mixture.sources])
    rng = np.random.default_rng(seed)
    while True:
        yield next(streams[int(rng.choice(len(streams), p=probabilities))])
