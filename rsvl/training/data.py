"""Streaming image-caption batches from WebDataset shards or the Parquet copy.

Data order is a pure function of (seed, batch index, rank, worker), which is what makes
resuming exact:

- The reading *units* (shards, or Parquet row groups) are permuted by the epoch seed and dealt
  to the ``world_size * workers`` slots, so no two processes or workers read the same sample
  within an epoch. With fewer units than slots every slot reads all units and keeps every
  ``slots``-th sample.
- Each slot streams its units through a seeded shuffle buffer; the stream wraps around (with a
  new order) instead of ending, so every rank always has a full batch and an epoch is a fixed
  number of steps (``samples // global batch``) on every rank: no rank waits on another.
- One DataLoader serves the whole run: batch ``g`` of a rank comes from worker ``g % workers``
  (the DataLoader's round-robin), which moves on to the next epoch's stream by itself.
  A resumed run starting at batch ``g0`` rotates the worker roles so the round-robin restarts
  at the right one, skips each worker's consumed batches of the current epoch before any
  augmentation (images are decoded only to spot corrupt ones), and continues identically.
- Caption choice and augmentations draw from a generator seeded by (seed, epoch, pass, key).
  ``data.captions`` picks the pool (:func:`choose_caption`): ``short`` (the record's captions),
  ``long`` (its long descriptions, ``extra.long_captions``; a sample without any falls back to
  its short ones and is counted), ``mixed`` (long with probability
  :data:`MIXED_LONG_PROBABILITY` when the sample has long ones, else short);
  ``data.caption_choice`` picks in the pool (``random`` or ``first``).

With the region loss on (``loss.region_weight > 0``, :mod:`rsvl.training.regions`) each batch
also carries its samples' regions: masks from the ``regions.json`` member (the Parquet copy's
``regions`` column) through the image's own augmentation to patch coverages, and the phrases
tokenised. Reading them draws nothing from the visit's generator, so images and captions are
the same with the loss on or off.

A sample whose image or record cannot be decoded is skipped and counted (``corrupt`` in each
batch); a shard that ends early is counted too. A missing shard is an error naming it.

A mixture file (:mod:`rsvl.data.mixtures`) is read by :class:`MixtureStream`: the same batching,
decoding, augmentation and caption choice, but each slot's samples come from the mixture's
seeded weighted stream (``iter_mixture`` with the slot as its rank and ``shuffle_buffer``),
re-seeded every epoch. Each dataset of it is read like a shard folder: its shards dealt to the
slots when it has at least as many (else every slot keeps every ``slots``-th sample), through
the same shuffle buffer (:func:`rsvl.data.shuffle.shuffled`), drained at each of its passes.
An epoch is ``mixture.num_samples // global batch`` steps, and a resumed run skips the consumed
samples of the current epoch's stream, so resuming is exact for mixtures too.
"""

from __future__ import annotations

import io
import logging
import math
import random
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from rsvl.data.exclusions import (
    ExclusionCounts,
    SampleFilter,
    count_exclusions,
    dataset_root,
    training_filter,
)
from rsvl.data.images import ImageTooLarge, open_image
from rsvl.data.mixtures import Mixture, iter_mixture, load_mixture
from rsvl.data.records import RECORDS_FILE, read_records
from rsvl.data.shards import (
    REGIONS_MEMBER,
    ShardSample,
    StreamSample,
    iter_members,
    list_shards,
    long_captions_of,
    mixed_layout_warning,
    read_sizes,
    read_split_sizes,
    shard_folders_for,
    stream_shard,
)
from rsvl.data.shuffle import shuffled
from rsvl.errors import ConfigError, InputError
from rsvl.training.augment import ImageTransform
from rsvl.training.regions import ImageRegions, RegionOptions, collate_regions, image_regions

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unit:
    """One independently readable piece of the training set: a shard or a Parquet row group."""

    path: Path
    row_group: int | None
    size: int


# Undecoded sample: image bytes, all captions, the record's split (None: unknown) and its long
# descriptions; ``None`` image or captions mark a corrupt sample. Shards, Parquet rows and
# mixture draws all become one.
RawSample = StreamSample
# data.captions=mixed: how often a sample that has long descriptions is shown one.
MIXED_LONG_PROBABILITY = 0.5


def choose_caption(sample: RawSample, rng: random.Random, captions: str = "short",
                   choice: str = "random") -> tuple[str, bool]:
    """The caption a visit of ``sample`` trains on, and whether it wanted a long one and fell
    back to a short one (the sample has no long descriptions).

    ``short`` draws only ``choice`` from the captions (exactly the draws of the trainer before
    long captions existed, so its data order is unchanged); ``mixed`` first draws whether this
    visit is long (probability :data:`MIXED_LONG_PROBABILITY`, samples with long ones only).

    Args:
        sample: A decodable sample (its ``captions`` are not empty).
        rng: The visit's generator (seeded by seed, epoch, pass and key).
        captions: ``data.captions``: ``short``, ``long`` or ``mixed``.
        choice: ``data.caption_choice``: ``random`` or ``first``.
    """
    pool = sample.captions or []
    long = sample.long_captions
    if long and (captions == "long"
                 or (captions == "mixed" and rng.random() < MIXED_LONG_PROBABILITY)):
        pool = long
    fell_back = captions != "short" and not long
    return (rng.choice(pool) if choice == "random" else pool[0]), fell_back


def list_units(train: str | Path, source: str = "auto", split: str = "") -> list[Unit]:
    """The reading units of a shard folder or Parquet file, validated up front.

    A dataset's ``shards/`` in the per-split layout is read from its ``split`` folder (every
    split folder with ``split`` empty); ``shards/train`` itself works too. With ``split`` and a
    folder that counts its splits (``splits.json``), each unit's size counts only that split's
    samples and shards holding none are left out; otherwise sizes count every sample. An old
    folder holding several splits is read filtered by split, with a one-line warning naming
    the command that rewrites it.

    Raises:
        InputError: The folder/file is missing, or a shard listed in ``sizes.json`` is missing.
    """
    path = Path(train)
    if not str(train):
        raise ConfigError(
            "data.train is empty; set it to a shard folder, a .parquet or a mixture .json file"
        )
    kind = source if source != "auto" else ("parquet" if path.suffix == ".parquet" else "shards")
    if kind == "parquet":
        import pyarrow.parquet as pq

        if not path.is_file():
            raise InputError(f"Parquet file not found: {path} (data.train)")
        metadata = pq.ParquetFile(path).metadata
        groups = range(metadata.num_row_groups)
        return [Unit(path, i, metadata.row_group(i).num_rows) for i in groups]
    if not path.is_dir():
        raise InputError(f"shard folder not found: {path} (data.train)")
    units = []
    for folder in shard_folders_for(path, [split] if split else []):
        if split and (warning := mixed_layout_warning(folder)):
            LOG.warning(warning)
        units += _folder_units(folder, split)
    return units


def _folder_units(path: Path, split: str) -> list[Unit]:
    sizes = read_sizes(path)
    units = [Unit(shard, None, sizes[shard.name]) for shard in list_shards(path)]
    splits = read_split_sizes(path) if split else None
    if splits is None:
        return units
    # A shard missing from splits.json (written by another tool) counts whole.
    wanted = [Unit(u.path, None, splits[u.path.name].get(split, 0))
              if u.path.name in splits else u for u in units]
    kept = [u for u in wanted if u.size > 0]
    if not kept:
        found = sorted({name for counts in splits.values() for name in counts})
        raise InputError(f"{path} holds no {split!r}-split samples (it has {found}); set "
                         "data.split to one of those, or to '' to train on every split")
    return kept


@dataclass
class TrainingData:
    """What a run reads, resolved once: units, the sample filter and what it keeps out.

    Attributes:
        units: The reading units (one pseudo-unit per source for a mixture).
        mixture: The mixture, when ``data.train`` names one.
        sample_filter: What a shard folder or Parquet reader may yield (a mixture's sources
            carry their own).
        exclusions: What the filters keep out, per dataset.
        num_samples: Trainable samples per epoch (what epoch length counts).
    """

    units: list[Unit]
    mixture: Mixture | None
    sample_filter: SampleFilter
    exclusions: list[ExclusionCounts]
    num_samples: int

    def start_fields(self) -> dict[str, Any]:
        """The counts the run's start log records (flat scalars)."""
        return {
            "data.samples": self.num_samples,
            "data.excluded_other_splits": sum(c.other_split for c in self.exclusions),
            "data.excluded_removed": sum(c.removed for c in self.exclusions),
            "data.removed_files": ",".join(
                str(f) for f in self._removed_files()) or "none",
        }

    def _removed_files(self) -> list[Path]:
        filters = ([s.sample_filter for s in self.mixture.sources] if self.mixture
                   else [self.sample_filter])
        return [f.removed_file for f in filters if f.removed_file is not None]

    def describe(self) -> list[str]:
        """One line per dataset for the terminal."""
        return [counts.describe() for counts in self.exclusions]


def open_training_data(train: str | Path, source: str = "auto", split: str = "train"
                       ) -> TrainingData:
    """Resolve ``data.train`` for a run: units, the one sample filter, and exclusion counts.

    Every reader path (a shard folder of either layout, a Parquet file, a mixture, an
    imported set) goes through :func:`rsvl.data.exclusions.training_filter`, so the split and
    ``removed.json`` of the dataset decide what any of them may yield.

    Args:
        train: ``data.train``.
        source: ``data.source``.
        split: ``data.split`` (empty: every split; ignored by mixtures).
    """
    if is_mixture(train, source):
        mixture = load_mixture(train)
        return TrainingData(mixture_units(mixture), mixture, SampleFilter(),
                            [s.counts for s in mixture.sources], mixture.num_samples)
    units = list_units(train, source, split)
    sample_filter = training_filter(train, [split] if split else [])
    counts = count_exclusions(str(train), sample_filter, _listed_samples(train, units))
    listed = sum(unit.size for unit in units)
    if counts.seen == 0:  # a bare shard folder: its sizes are all there is to count
        counts = ExclusionCounts(str(train), listed, 0, min(listed, len(sample_filter.removed)))
    return TrainingData(units, None, sample_filter, [counts], max(1, listed - counts.removed))


def _listed_samples(train: str | Path, units: list[Unit]) -> Iterator[tuple[str, str | None]]:
    """``(key, split)`` of every sample ``train`` belongs to: a Parquet file's key and split
    columns, else its dataset's ``records.jsonl``; a bare shard folder lists none."""
    if units and units[0].row_group is not None:
        import pyarrow.parquet as pq

        names = pq.read_schema(units[0].path).names
        columns = [c for c in ("key", "split") if c in names]
        table = pq.read_table(units[0].path, columns=columns).to_pydict()
        yield from zip(table["key"], table.get("split") or [None] * len(table["key"]),
                       strict=True)
        return
    root = dataset_root(train)
    if root is not None and (root / RECORDS_FILE).is_file():
        yield from ((r.key, r.split) for r in read_records(root / RECORDS_FILE))


def is_mixture(train: str | Path, source: str = "auto") -> bool:
    """Whether ``data.train``/``data.source`` name a mixture file (``auto``: a ``.json`` path)."""
    return source == "mixture" or (source == "auto" and Path(train).suffix == ".json")


def mixture_units(mixture: Mixture) -> list[Unit]:
    """One pseudo-unit per mixture source, sized by its split-filtered, de-duplicated samples
    (what epoch length and the corrupt-sample limit count; never read directly)."""
    return [Unit(source.root, None, source.num_samples) for source in mixture.sources]


def require_regions(units: list[Unit]) -> None:
    """Check that every unit carries region-text pairs (the region loss reads them): each
    shard's first sample has a ``regions.json`` member, a Parquet file a ``regions`` column.

    Raises:
        ConfigError: One does not, naming it and what to change.
    """
    for unit in units:
        if unit.row_group is not None:
            import pyarrow.parquet as pq

            found = "regions" in pq.read_schema(unit.path).names
        else:
            with closing(iter_members(unit.path)) as samples:
                found = REGIONS_MEMBER in next(samples, ("", {}))[1]
        if not found:
            raise ConfigError(
                f"loss.region_weight > 0 but {unit.path} has no region-text pairs "
                f"({REGIONS_MEMBER} members / a regions column); rebuild it with this rsvl's "
                "`rsvl build captions` or set loss.region_weight=0")
        if unit.row_group is not None:
            return  # one Parquet file: its schema holds for every row group


def steps_per_epoch(total_samples: int, global_batch: int) -> int:
    """Optimizer steps in one epoch: full global batches only, at least one."""
    return max(1, total_samples // global_batch)


def owned_batches(first: int, last: int, worker: int, workers: int) -> int:
    """How many of the batches ``first .. last - 1`` come from ``worker`` (batch g from g % W)."""

    def before(index: int) -> int:
        return max(0, math.ceil((index - worker) / workers))

    return before(last) - before(first)


def read_unit(unit: Unit, regions: bool = False) -> Iterator[RawSample]:
    """Raw samples of one unit in stored order; a shard that ends early yields one corrupt mark.

    ``regions``: keep each sample's region-text pairs (only the region loss reads them; left
    out, they neither fill the cache nor, from Parquet, get read at all).
    """
    if unit.row_group is not None:
        yield from _read_row_group(unit.path, unit.row_group, regions)
    elif regions:
        yield from stream_shard(unit.path)
    else:
        for sample in stream_shard(unit.path):
            yield replace(sample, regions=None) if sample.regions else sample


def _read_row_group(path: Path, row_group: int, regions: bool) -> Iterator[RawSample]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    wanted = ("key", "image", "captions", "split", "long_captions",
              *(("regions",) if regions else ()))
    columns = [c for c in wanted if c in parquet.schema_arrow.names]
    for row in parquet.read_row_group(row_group, columns=columns).to_pylist():
        image = (row.get("image") or {}).get("bytes")
        captions = list(row["captions"] or []) or None
        # Files written before the column existed have no long captions.
        long = [c for c in row.get("long_captions") or [] if c]
        pairs = row.get("regions")  # JSON text, as the shards' regions.json member
        yield RawSample(str(row["key"]), image, captions, row.get("split"), long,
                        pairs.encode() if pairs is not None else None)


def decode_image(sample: RawSample) -> Image.Image | None:
    """The sample's image, fully decoded, or None when the sample is corrupt."""
    if sample.image is None or not sample.captions:
        return None
    try:
        image = open_image(io.BytesIO(sample.image), sample.key)
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError, ImageTooLarge):
        return None
    return image


class ContrastiveStream(torch.utils.data.IterableDataset):
    """Endless stream of ``{"image", "text", "keys", "corrupt", "no_long"}`` batches for one
    rank (``no_long``: keys of the batch that wanted a long caption and had none).

    Args:
        units: All reading units (every rank passes the same list).
        rank: This process's index; world_size: number of processes.
        batch_size: Samples per batch.
        transform: Image transform (augmenting for training).
        tokenizer: open_clip tokenizer (list of strings -> token tensor).
        seed: Run seed (with the epoch, fixes order and augmentations).
        epoch_batches: Batches per rank in one epoch.
        start_batch: Index of the first batch to produce (batches of earlier runs are skipped).
        shuffle_buffer: Shuffle buffer size per worker.
        captions: ``data.captions``: ``short``, ``long`` or ``mixed`` (see
            :func:`choose_caption`).
        caption_choice: ``data.caption_choice``: ``random`` or ``first``.
        split: Keep only records of this split; empty keeps all. Records without a split
            are kept. Used when no ``sample_filter`` is given.
        cache_bytes: Memory for keeping fully read units between passes (see
            :class:`UnitCache`).
        sample_filter: What may be yielded (split and de-duplication removals), from
            :func:`open_training_data`.
        regions: With the region loss on, how each sample's ``regions.json`` becomes patch
            coverages; batches then carry ``regions`` (:func:`~rsvl.training.regions.
            collate_regions`). The augmentations' random draws are the same either way.
    """

    def __init__(
        self,
        units: list[Unit],
        rank: int,
        world_size: int,
        batch_size: int,
        transform: ImageTransform,
        tokenizer: Callable[[list[str]], torch.Tensor],
        seed: int,
        epoch_batches: int,
        start_batch: int = 0,
        shuffle_buffer: int = 1000,
        captions: str = "short",
        caption_choice: str = "random",
        split: str = "train",
        cache_bytes: int = 0,
        sample_filter: SampleFilter | None = None,
        regions: RegionOptions | None = None,
    ) -> None:
        super().__init__()
        self.units = units
        self.rank = rank
        self.world_size = world_size
        self.batch_size = batch_size
        self.transform = transform
        self.seed = seed
        self.epoch_batches = max(1, epoch_batches)
        self.start_batch = start_batch
        self.shuffle_buffer = max(1, shuffle_buffer)
        self.captions = captions
        self.caption_choice = caption_choice
        self.split = split
        self.sample_filter = sample_filter or SampleFilter(frozenset([split] if split else []))
        self.cache = UnitCache(cache_bytes, regions=regions is not None)
        self.tokenizer = tokenizer
        self.regions = regions

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        # Batch g of the run comes from logical worker g % workers. The DataLoader starts its
        # round-robin at physical worker 0, so that one plays logical worker start % workers.
        worker = (worker + self.start_batch) % workers
        slot, slots = self.rank * workers + worker, self.world_size * workers
        epoch = self.start_batch // self.epoch_batches
        while True:
            first = epoch * self.epoch_batches
            last = first + self.epoch_batches
            begin = max(first, self.start_batch)
            skip = owned_batches(first, begin, worker, workers)
            count = owned_batches(begin, last, worker, workers)
            yield from self._epoch(epoch, slot, slots, skip, count)
            epoch += 1

    def _epoch(
        self, epoch: int, slot: int, slots: int, skip: int, count: int
    ) -> Iterator[dict[str, Any]]:
        """``count`` batches of this slot in ``epoch``, after skipping ``skip`` batches."""
        if count == 0:
            return
        stream = self._slot_stream(epoch, slot, slots)
        # Corrupt samples in the skipped part were counted by the run that first met them.
        to_skip = skip * self.batch_size
        while to_skip:
            to_skip -= decode_image(next(stream)[1]) is not None
        corrupt, hopeless = 0, sum(unit.size for unit in self.units) + 1
        batch: list[tuple[torch.Tensor, str, str, bool]] = []
        regions: list[ImageRegions] = []  # with the region loss: one per sample of the batch
        for pass_index, sample in stream:
            image = decode_image(sample)
            if image is None:
                corrupt += 1
                if corrupt >= hopeless:
                    raise InputError(f"no decodable sample in {self.origin}")
                continue
            rng = random.Random(f"{self.seed}:{epoch}:{pass_index}:{sample.key}")
            caption, fell_back = choose_caption(sample, rng, self.captions, self.caption_choice)
            pixels, geometry = self.transform.apply(image, rng)
            if self.regions is not None:
                regions.append(image_regions(sample.regions, (image.height, image.width),
                                             geometry, self.regions, sample.key))
            batch.append((pixels, caption, sample.key, fell_back))
            if len(batch) == self.batch_size:
                out = {
                    "image": torch.stack([b[0] for b in batch]),
                    "text": self.tokenizer([b[1] for b in batch]),
                    "keys": [b[2] for b in batch],
                    "corrupt": corrupt,
                    "no_long": [b[2] for b in batch if b[3]],
                }
                if self.regions is not None:
                    out["regions"] = collate_regions(regions, self.tokenizer)
                yield out
                batch, regions, corrupt = [], [], 0
                count -= 1
                if count == 0:
                    return

    @property
    def origin(self) -> Path:
        """Where the samples come from, for error messages."""
        return self.units[0].path.parent

    def _deal(self, epoch: int, slot: int, slots: int) -> tuple[list[Unit], bool]:
        """This slot's units for the epoch, and whether it owns them whole (else every
        ``slots``-th sample of all units)."""
        if not self.units:
            raise InputError("the training set has no shards")
        order = list(self.units)
        random.Random(f"{self.seed}:{epoch}:units").shuffle(order)
        whole_units = len(order) >= slots
        return (order[slot::slots] if whole_units else order), whole_units

    def _slot_stream(
        self, epoch: int, slot: int, slots: int
    ) -> Iterator[tuple[int, RawSample]]:
        """(pass, sample) forever over this slot's share, dealt once per epoch.

        The deal is fixed for the epoch, so wrapping around never hands a rank another rank's
        samples. Each pass goes through its own shuffle buffer, drained at the end of the pass,
        so a pass visits every sample of the share exactly once.
        """
        mine, whole_units = self._deal(epoch, slot, slots)
        pass_index = 0
        while True:
            # Sample-level dealing needs one unit order shared by all slots.
            owner = slot if whole_units else "all"
            random.Random(f"{self.seed}:{epoch}:{owner}:{pass_index}").shuffle(mine)
            share = (
                sample
                for position, sample in enumerate(s for unit in mine for s in self.cache.read(unit))
                if (whole_units or position % slots == slot) and self._wanted(sample)
            )
            rng = random.Random(f"{self.seed}:{epoch}:{slot}:{pass_index}:buffer")
            yielded = 0
            for sample in shuffled(share, self.shuffle_buffer, rng):
                yielded += 1
                yield pass_index, sample
            if yielded == 0:
                raise InputError(
                    f"{self.units[0].path.parent} has too few {self.split or 'any'}-split samples "
                    f"to give each of {slots} processes and workers one; use fewer data.workers "
                    "or more data"
                )
            pass_index += 1

    def _wanted(self, sample: RawSample) -> bool:
        return self.sample_filter.accepts(sample.key, sample.split)


class UnitCache:
    """Keeps the undecoded samples of fully read units in memory, up to ``max_bytes``.

    Small sets (a demo region, a fine-tuning set) train for many passes; reading them from
    memory after the first pass skips the tar parsing that otherwise costs more than the
    JPEG decode. Replay yields exactly what the first read did, so data order is unchanged.
    Each DataLoader worker holds its own cache.
    """

    def __init__(self, max_bytes: int, regions: bool = False) -> None:
        self.max_bytes = max_bytes
        self.regions = regions  # read (and keep) region-text pairs: see read_unit
        self.used = 0
        self.units: dict[Unit, list[RawSample]] = {}

    def read(self, unit: Unit) -> Iterator[RawSample]:
        """The unit's samples: from memory when cached, else from disk (caching them once
        the unit was read to its end and fits in what is left)."""
        if unit in self.units:
            yield from self.units[unit]
            return
        kept: list[RawSample] | None = [] if self.used < self.max_bytes else None
        size = 0
        for sample in read_unit(unit, self.regions):
            yield sample
            if kept is not None:
                texts = [*(sample.captions or []), *sample.long_captions]
                size += len(sample.image or b"") + sum(len(c) for c in texts)
                size += len(sample.regions or b"")
                kept.append(sample)
                if self.used + size > self.max_bytes:
                    kept = None
        if kept is not None:
            self.units[unit] = kept
            self.used += size


class CaptionTokens:
    """A tokenizer that remembers each caption's tokens: captions repeat every epoch, and
    tokenising one costs about as much as decoding its image. Batches are identical to
    ``tokenizer(texts)`` (every caption is padded to the context length on its own)."""

    MAX_CAPTIONS = 200_000

    def __init__(self, tokenizer: Callable[[list[str]], torch.Tensor]) -> None:
        self.tokenizer = tokenizer
        self.known: dict[str, torch.Tensor] = {}

    def __call__(self, texts: list[str]) -> torch.Tensor:
        new = [t for t in dict.fromkeys(texts) if t not in self.known]
        if new:
            if len(self.known) + len(new) > self.MAX_CAPTIONS:
                self.known.clear()
            self.known.update(zip(new, self.tokenizer(new), strict=True))
        return torch.stack([self.known[t] for t in texts])


class MixtureStream(ContrastiveStream):
    """:class:`ContrastiveStream` whose samples are drawn from a mixture's datasets by weight.

    Epochs and the corrupt-sample limit follow the mixture's size (:func:`mixture_units`).
    ``split`` is ignored: each dataset's ``splits`` in the mixture file choose what is read.

    Args:
        mixture: From :func:`rsvl.data.mixtures.load_mixture`.
        **kwargs: :class:`ContrastiveStream` arguments other than ``units``.
    """

    def __init__(self, mixture: Mixture, **kwargs: Any) -> None:
        super().__init__(mixture_units(mixture), **kwargs)
        self.mixture = mixture

    @property
    def origin(self) -> Path:
        return self.mixture.path

    def _slot_stream(
        self, epoch: int, slot: int, slots: int
    ) -> Iterator[tuple[int, RawSample]]:
        """(draw index, sample) forever: the slot's share of this epoch's mixture stream.

        The draw index stands in for the pass so that a sample drawn twice is augmented
        differently each time.
        """
        seed = random.Random(f"{self.seed}:{epoch}:mixture").getrandbits(63)
        samples = iter_mixture(self.mixture, seed, slot, slots, self.shuffle_buffer)
        for draw, sample in enumerate(samples):
            yield draw, _raw_sample(sample)


def _raw_sample(sample: ShardSample) -> RawSample:
    """The mixture's sample in the trainer's form; captions that are not strings mark it
    corrupt (None), as in a shard folder."""
    captions = sample.record.get("captions")
    if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
        captions = None
    return RawSample(sample.key, sample.image, captions or None, sample.record.get("split"),
                     long_captions_of(sample.record.get("extra")))
