"""Find images shared across datasets and keep evaluation images out of training data.

Three tests, strongest first, each giving one training image its closest evaluation image:

- ``exact``: the same decoded pixels (sha256 of the RGB array and its size);
- ``near``: perceptual hashes (pHash: DCT of a 32x32 greyscale, signs of the 8x8 lowest
  frequencies against their median, 64 bits) within ``max_distance`` bits, robust to
  re-encoding and resizing; the eight rotations/flips of every training image are hashed too
  and the smallest distance counts, so flipped or rotated copies match;
- ``embedding`` (optional): cosine similarity of image embeddings from a chosen model
  (:func:`rsvl.models.load_clip`) at or above ``min_cosine``.

:func:`deduplicate` writes ``removed.json`` into every training dataset's root (every training
reader skips those keys: :mod:`rsvl.data.exclusions`) and an overlap table (Markdown and CSV).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from rsvl.data.atomic import atomic_open, write_json
from rsvl.data.exclusions import REMOVED_FILE
from rsvl.data.images import open_image
from rsvl.data.records import RECORDS_FILE, SPLITS, read_records
from rsvl.errors import ConfigError, InputError

HASH_SIZE = 32
LOW_FREQUENCIES = 8
# Measured on WHU-RS19: re-encoded (q60), halved and rotated copies lie within 4 bits;
# distinct scenes were 10 or more apart.
DEFAULT_MAX_DISTANCE = 6
DEFAULT_MIN_COSINE = 0.95
METHODS = ("exact", "near", "embedding")
# Bound the (train chunk x 8 variants x eval) distance block to about 64 MB.
_BLOCK_BYTES = 1 << 26


def _dct_matrix(size: int) -> np.ndarray:
    """Orthonormal DCT-II matrix: ``C @ x`` is the DCT of the columns of ``x``."""
    k = np.arange(size)[:, None]
    n = np.arange(size)[None, :]
    matrix = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * np.sqrt(2 / size)
    matrix[0] /= np.sqrt(2)
    return matrix


_DCT = _dct_matrix(HASH_SIZE)


def _phashes(greys: np.ndarray) -> np.ndarray:
    """The 64-bit perceptual hashes of a stack of 32x32 greyscale arrays, uint64."""
    low = (_DCT @ greys @ _DCT.T)[:, :LOW_FREQUENCIES, :LOW_FREQUENCIES].reshape(len(greys), -1)
    # The DC term only measures brightness: leave it out of the threshold.
    bits = low > np.median(low[:, 1:], axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def phash_grey(grey: np.ndarray) -> int:
    """The 64-bit perceptual hash of a 32x32 greyscale array."""
    return int(_phashes(grey[None])[0])


def _grey(image: Image.Image) -> np.ndarray:
    small = image.convert("L").resize((HASH_SIZE, HASH_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.float64)


def phash(image: Image.Image) -> int:
    """The 64-bit perceptual hash of an image."""
    return phash_grey(_grey(image))


def dihedral_phashes(image: Image.Image) -> np.ndarray:
    """pHashes of the image's 4 rotations and their mirror images (identity first), uint64.

    The 8 variants go through one stacked DCT and one median: a third of the cost of 8
    separate hashes.
    """
    grey = _grey(image)
    rotations = [np.rot90(grey, k) for k in range(4)]
    return _phashes(np.stack(rotations + [np.fliplr(v) for v in rotations]))


def pixel_sha256(image: Image.Image) -> str:
    """sha256 of the decoded RGB pixels and the size: equal only for identical pixels."""
    rgb = image.convert("RGB")
    return hashlib.sha256(f"{rgb.size}".encode() + rgb.tobytes()).hexdigest()


@dataclass
class ImageSet:
    """The images of some splits of one dataset, fingerprinted.

    Attributes:
        name: Dataset name (its folder name) used in reports.
        root: Dataset root (holding ``records.jsonl``).
        splits: The splits included.
        keys: Record keys, in order.
        image_paths: Image files, aligned with ``keys``.
        sha256: Pixel hashes, aligned with ``keys``.
        phashes: ``(N, 8)`` uint64 pHashes of the 8 rotations/flips.
    """

    name: str
    root: Path
    splits: tuple[str, ...]
    keys: list[str]
    image_paths: list[Path]
    sha256: list[str]
    phashes: np.ndarray

    @property
    def label(self) -> str:
        """``name:split,split`` as shown in reports."""
        return f"{self.name}:{','.join(self.splits)}"


def parse_set(spec: str, default_splits: Sequence[str]) -> tuple[Path, tuple[str, ...]]:
    """Parse ``ROOT`` or ``ROOT:split,split`` (command-line form of a dataset selection)."""
    root, _, splits = spec.rpartition(":") if ":" in spec else (spec, "", "")
    chosen = tuple(s for s in splits.split(",") if s) or tuple(default_splits)
    unknown = [s for s in chosen if s not in SPLITS]
    if unknown:
        raise ConfigError(f"{spec}: unknown split {unknown[0]!r}; use {'/'.join(SPLITS)}")
    return Path(root), chosen


def load_image_set(root: str | Path, splits: Sequence[str]) -> ImageSet:
    """Fingerprint the images of ``splits`` of a built or imported dataset."""
    root = Path(root)
    records = [r for r in read_records(root / RECORDS_FILE) if r.split in splits]
    shas, hashes, paths = [], [], []
    for record in records:
        path = root / record.image
        try:
            with open_image(path) as image:
                image.load()
                shas.append(pixel_sha256(image))
                hashes.append(dihedral_phashes(image))
        except (OSError, ValueError) as error:
            raise InputError(
                f"{path}: cannot decode the image of record {record.key} ({error})"
            ) from None
        paths.append(path)
    return ImageSet(
        name=root.resolve().name, root=root, splits=tuple(splits),
        keys=[r.key for r in records], image_paths=paths, sha256=shas,
        phashes=np.array(hashes, dtype=np.uint64).reshape(-1, 8),
    )


@dataclass(frozen=True)
class Match:
    """A training image that duplicates an evaluation image."""

    train_set: str
    train_key: str
    eval_set: str
    eval_key: str
    method: str
    distance: float

    def to_dict(self) -> dict[str, Any]:
        """The fields written in ``removed.json`` for this training key."""
        return {"match_dataset": self.eval_set, "match_key": self.eval_key,
                "method": self.method, "distance": self.distance}


def nearest_phash(train: np.ndarray, evaluation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each training image, the closest evaluation image by pHash over all 8 variants.

    Args:
        train: ``(T, 8)`` uint64 variant hashes.
        evaluation: ``(E, 8)`` uint64 hashes (only the identity column is used: comparing one
            side's identity with the other side's 8 variants covers every relative flip).

    Returns:
        ``(index, distance)`` arrays of length T (empty inputs give distance 65).
    """
    count = len(train)
    if count == 0 or len(evaluation) == 0:
        return np.zeros(count, dtype=np.int64), np.full(count, 65, dtype=np.int64)
    reference = evaluation[:, 0]
    chunk = max(1, _BLOCK_BYTES // (8 * 8 * len(reference)))
    index = np.empty(count, dtype=np.int64)
    distance = np.empty(count, dtype=np.int64)
    for start in range(0, count, chunk):
        block = train[start:start + chunk, :, None] ^ reference[None, None, :]
        bits = np.bitwise_count(block).min(axis=1)
        index[start:start + chunk] = bits.argmin(axis=1)
        distance[start:start + chunk] = bits.min(axis=1)
    return index, distance


def find_matches(train: ImageSet, evaluation: ImageSet, max_distance: int = DEFAULT_MAX_DISTANCE,
                 embeddings: tuple[np.ndarray, np.ndarray] | None = None,
                 min_cosine: float = DEFAULT_MIN_COSINE) -> list[Match]:
    """Training images of ``train`` that duplicate an image of ``evaluation``.

    Args:
        train: The training set.
        evaluation: The evaluation set.
        max_distance: Largest pHash Hamming distance (of 64 bits) called a near duplicate.
        embeddings: Optional L2-normalised ``(T, D)`` and ``(E, D)`` image embeddings.
        min_cosine: Smallest cosine similarity called an embedding duplicate.
    """
    exact = {sha: key for key, sha in zip(evaluation.keys, evaluation.sha256, strict=True)}
    index, distance = nearest_phash(train.phashes, evaluation.phashes)
    if embeddings is not None and len(evaluation.keys):
        cosine = embeddings[0] @ embeddings[1].T
        best, best_cosine = cosine.argmax(axis=1), cosine.max(axis=1)
    matches = []
    for row, key in enumerate(train.keys):
        found = None
        if train.sha256[row] in exact:
            found = (exact[train.sha256[row]], "exact", 0.0)
        elif distance[row] <= max_distance:
            found = (evaluation.keys[index[row]], "near", float(distance[row]))
        elif embeddings is not None and len(evaluation.keys) and best_cosine[row] >= min_cosine:
            found = (evaluation.keys[best[row]], "embedding", round(float(best_cosine[row]), 6))
        if found is not None:
            matches.append(Match(train.label, key, evaluation.label, *found))
    return matches


def embed_images(image_set: ImageSet, loaded: Any, batch_size: int = 64) -> np.ndarray:
    """L2-normalised image embeddings of a set with a model from :func:`rsvl.models.load_clip`."""
    from rsvl.models import encode_images

    def images() -> Iterator[Image.Image]:
        for path in image_set.image_paths:
            with open_image(path) as image:
                yield image.convert("RGB")

    features = encode_images(loaded, images(), batch_size).numpy()
    return features if len(features) else np.zeros((0, 1), dtype=np.float32)


@dataclass
class DedupReport:
    """What :func:`deduplicate` found and wrote.

    Attributes:
        matches: Every removed training image with its closest evaluation image.
        table: One row per (evaluation set, training set) pair with counts per method.
        removed_files: The ``removed.json`` written per training dataset.
    """

    matches: list[Match]
    table: list[dict[str, Any]]
    removed_files: list[Path]


def deduplicate(eval_sets: Sequence[ImageSet], train_sets: Sequence[ImageSet],
                out: str | Path | None = None, max_distance: int = DEFAULT_MAX_DISTANCE,
                model: str | None = None, min_cosine: float = DEFAULT_MIN_COSINE) -> DedupReport:
    """Match every training set against every evaluation set; write removals and the table.

    Each training image keeps its strongest match (exact, then near, then embedding) over all
    evaluation sets. ``TRAIN_ROOT/removed.json`` is rewritten with that run's removals, so run
    it once with every evaluation set.

    Args:
        eval_sets: Evaluation images (e.g. the test splits of RSICD and RSITMD).
        train_sets: Training images (e.g. the train split of UCM-Captions and a built set).
        out: Folder for ``overlaps.md`` and ``overlaps.csv`` (none written when None).
        max_distance: pHash Hamming threshold for near duplicates.
        model: Model spec for embedding similarity (``rsvl.models.load_clip``), or None.
        min_cosine: Cosine threshold for embedding duplicates.
    """
    _check_disjoint(eval_sets, train_sets)
    if not 0 <= max_distance <= 64:
        raise ConfigError(f"max pHash distance must be within 0..64, got {max_distance}")
    vectors: dict[str, np.ndarray] = {}
    if model is not None:
        from rsvl.models import load_clip

        loaded = load_clip(model)
        vectors = {s.label: embed_images(s, loaded) for s in [*eval_sets, *train_sets]}
    matches: list[Match] = []
    table = []
    removed_files = []
    for train in train_sets:
        best: dict[str, Match] = {}
        for evaluation in eval_sets:
            pair = (vectors[train.label], vectors[evaluation.label]) if vectors else None
            found = find_matches(train, evaluation, max_distance, pair, min_cosine)
            counts = {m: sum(1 for f in found if f.method == m) for m in METHODS}
            table.append({"eval": evaluation.label, "train": train.label,
                          "eval_images": len(evaluation.keys), "train_images": len(train.keys),
                          **counts, "shared": len(found)})
            for match in found:
                if match.train_key not in best or _stronger(match, best[match.train_key]):
                    best[match.train_key] = match
        removed = {
            "eval_sets": [{"path": str(s.root), "splits": list(s.splits)} for s in eval_sets],
            "train_splits": list(train.splits),
            "max_distance": max_distance, "model": model,
            "min_cosine": min_cosine if model else None,
            "removed": {k: m.to_dict() for k, m in sorted(best.items())},
        }
        write_json(train.root / REMOVED_FILE, removed)
        removed_files.append(train.root / REMOVED_FILE)
        matches.extend(best.values())
    if out is not None:
        write_table(Path(out), table)
    return DedupReport(matches, table, removed_files)


def _stronger(a: Match, b: Match) -> bool:
    rank = {m: i for i, m in enumerate(METHODS)}
    if a.method != b.method:
        return rank[a.method] < rank[b.method]
    # Distances shrink and cosines grow as matches get closer.
    return a.distance > b.distance if a.method == "embedding" else a.distance < b.distance


def _check_disjoint(eval_sets: Sequence[ImageSet], train_sets: Sequence[ImageSet]) -> None:
    if not eval_sets or not train_sets:
        raise ConfigError("give at least one evaluation set (--eval) and training set (--train)")
    roots = [s.root.resolve() for s in train_sets]
    repeated = next((r for r in roots if roots.count(r) > 1), None)
    if repeated is not None:
        raise ConfigError(f"{repeated} is given twice as a training set; list its splits once "
                          "(ROOT:train,val)")
    for evaluation in eval_sets:
        for train in train_sets:
            shared = set(evaluation.splits) & set(train.splits)
            if evaluation.root.resolve() == train.root.resolve() and shared:
                raise ConfigError(
                    f"{train.root}: split {sorted(shared)[0]!r} is both evaluation and training"
                )


TABLE_COLUMNS = ("eval", "train", "eval_images", "train_images", *METHODS, "shared")


def write_table(out: Path, table: Sequence[dict[str, Any]]) -> None:
    """Write the overlap table as ``overlaps.csv`` and ``overlaps.md``."""
    with atomic_open(out / "overlaps.csv", "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=TABLE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
    with atomic_open(out / "overlaps.md", "w") as handle:
        handle.write(table_markdown(table))


def table_markdown(table: Sequence[dict[str, Any]]) -> str:
    """The overlap table as Markdown."""
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(str(row[c]) for c in TABLE_COLUMNS) + " |" for row in table]
    return "\n".join(lines) + "\n"
