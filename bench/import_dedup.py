"""Images per second of the folder importer and of the de-duplication, each against a bare loop.

Data, generated here: ``--images`` JPEG crops (64-90 px at the default size) of the synthetic
region's orthophoto, one per grid cell so no two overlap, in class folders named after each
crop's main land class, split into two sources: A (imported as the test split) and B (the
train split), where ``--planted`` of B's images are copies of A images (a quarter each: the
same file, re-encoded at quality 60, resized to 3/4, rotated or mirrored).

Import: ``rsvl.builders.importers.import_dataset("folder", ...)`` of A and B (validate, copy the
images, records, shards, Parquet, manifest) against a bare loop that reads each file's bytes,
decodes it with PIL (``Image.load``, as the importer does to check it) and writes the bytes and
the caption into 1000-sample tars with ``tarfile``.

Dedup: ``rsvl.builders.dedup.load_image_set`` of both imported sets and ``deduplicate`` (as
``rsvl build dedup`` calls them) against a bare loop over the same image files: decode, sha256
of the RGB pixels and size, the same 32x32 LANCZOS greyscale from PIL, then the pHashes of
its 8 rotations/flips for all images at once (one batched DCT), the nearest evaluation hash
by XOR and popcount, and exact-then-near matching: the same answer with no records, no
per-image Python hashing and no bookkeeping. Both must find the same training keys.

Rounds alternate rsvl and the baselines; the median round is reported. Writes
``bench/results/import_dedup.json``.

    .venv/bin/python bench/import_dedup.py [--images 2000] [--planted 0.1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import platform
import shutil
import statistics
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image
from timing import alternated_rounds

from rsvl.builders.dedup import (
    DEFAULT_MAX_DISTANCE,
    HASH_SIZE,
    LOW_FREQUENCIES,
    deduplicate,
    load_image_set,
)
from rsvl.builders.importers import import_dataset
from rsvl.builders.importers.folder import DEFAULT_TEMPLATES, caption
from rsvl.data.atomic import write_json
from rsvl.synth import generate_region

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "import_dedup.json"
SHARD_SIZE = 1000
MIN_CROP = 64


def make_sources(folder: Path, count: int, planted: float, size_m: float, gsd_m: float,
                 seed: int = 0) -> tuple[Path, Path, int]:
    """Write sources A and B (``count`` images in all); returns them and the planted count."""
    rng = np.random.default_rng(seed)
    region = generate_region(folder / "region", size_m=size_m, gsd_m=gsd_m, tiles=False)
    with rasterio.open(region.orthophoto_path) as ortho, rasterio.open(region.classes_path) as cl:
        pixels, classes = np.moveaxis(ortho.read(), 0, -1), cl.read(1)
    names = {c["id"]: c["name"] for c in region.classes}
    copies = round(count // 2 * planted)
    cell = pixels.shape[0] // math.ceil(math.sqrt(count - copies))
    if cell < MIN_CROP:
        raise SystemExit(f"{count} images need a larger region than {size_m} m at {gsd_m} m/px")
    cells = [(r, c) for r in range(0, pixels.shape[0] - cell + 1, cell)
             for c in range(0, pixels.shape[1] - cell + 1, cell)]
    order = rng.permutation(len(cells))[:count - copies]
    written: list[Path] = []
    for index, cell_index in enumerate(order):
        row, col = cells[cell_index]
        side = int(rng.integers(MIN_CROP, cell + 1))
        window = (slice(row, row + side), slice(col, col + side))
        land = names[int(np.bincount(classes[window].ravel()).argmax())]
        source = "A" if index < count // 2 else "B"
        path = folder / source / land / f"{source.lower()}{index:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[window]).save(path, quality=90)
        written.append(path)
    originals = rng.choice(count // 2, copies, replace=False)
    for index, original in enumerate(originals):
        path = folder / "B" / written[original].parent.name / f"copy{index:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(written[original]) as image:
            variants = [image, image, image.resize((image.width * 3 // 4,) * 2, Image.LANCZOS),
                        image.transpose(Image.Transpose.ROTATE_90 if index % 8 == 3
                                        else Image.Transpose.FLIP_LEFT_RIGHT)]
            if index % 4 == 0:
                shutil.copyfile(written[original], path)
            else:
                variants[index % 4].save(path, quality=60 if index % 4 == 1 else 80)
    return folder / "A", folder / "B", copies


def _source_files(source: Path) -> list[tuple[Path, str]]:
    return [(path, caption(DEFAULT_TEMPLATES[0], path.parent.name))
            for path in sorted(source.glob("*/*.jpg"))]


def baseline_import(files: list[tuple[Path, str]], out: Path) -> None:
    """Read, decode-check and tar every image with its caption, ``SHARD_SIZE`` per tar."""
    out.mkdir(parents=True)
    for start in range(0, len(files), SHARD_SIZE):
        with tarfile.open(out / f"{start // SHARD_SIZE:05d}.tar", "w") as tar:
            for path, text in files[start:start + SHARD_SIZE]:
                data = path.read_bytes()
                with Image.open(io.BytesIO(data)) as image:
                    image.load()
                key = f"{path.parent.name}_{path.stem}"
                for name, payload in ((f"{key}.jpg", data), (f"{key}.txt", text.encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))


def _dct(size: int) -> np.ndarray:
    k, n = np.arange(size)[:, None], np.arange(size)[None, :]
    matrix = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * np.sqrt(2 / size)
    matrix[0] /= np.sqrt(2)
    return matrix


def baseline_fingerprints(paths: list[Path]) -> tuple[list[str], np.ndarray]:
    """Pixel sha256 and ``(N, 8)`` dihedral pHashes, the hashes in one batched DCT."""
    shas, greys = [], []
    for path in paths:
        with Image.open(path) as image:
            image.load()
            rgb = image.convert("RGB")
            shas.append(hashlib.sha256(f"{rgb.size}".encode() + rgb.tobytes()).hexdigest())
            small = image.convert("L").resize((HASH_SIZE, HASH_SIZE), Image.Resampling.LANCZOS)
            greys.append(np.asarray(small, dtype=np.float64))
    grey = np.stack(greys)
    turns = [np.rot90(grey, k, axes=(1, 2)) for k in range(4)]
    variants = np.stack(turns + [v[:, :, ::-1] for v in turns], axis=1)
    dct = _dct(HASH_SIZE)
    low = (dct @ variants @ dct.T)[..., :LOW_FREQUENCIES, :LOW_FREQUENCIES]
    low = low.reshape(len(paths), 8, LOW_FREQUENCIES ** 2)
    bits = low > np.median(low[..., 1:], axis=-1, keepdims=True)
    return shas, np.packbits(bits, axis=-1).view(">u8")[..., 0].astype(np.uint64)


def baseline_dedup(eval_paths: list[Path], train_paths: list[Path],
                   max_distance: int) -> set[str]:
    """Training image stems whose pixels equal, or whose pHash is near, an evaluation image's."""
    eval_shas, eval_hashes = baseline_fingerprints(eval_paths)
    train_shas, train_hashes = baseline_fingerprints(train_paths)
    exact = set(eval_shas)
    distance = np.bitwise_count(train_hashes[:, :, None] ^ eval_hashes[None, None, :, 0])
    nearest = distance.min(axis=(1, 2))
    return {path.stem for path, sha, bits in zip(train_paths, train_shas, nearest, strict=True)
            if sha in exact or bits <= max_distance}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="images in A and B together")
    parser.add_argument("--planted", type=float, default=0.1,
                        help="share of B's images that copy an A image")
    parser.add_argument("--size-m", type=float, default=2048, help="synthetic region side")
    parser.add_argument("--gsd-m", type=float, default=0.5, help="orthophoto metres per pixel")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source_a, source_b, copies = make_sources(tmp / "src", args.images, args.planted,
                                                  args.size_m, args.gsd_m)
        files = {name: _source_files(source) for name, source in (("A", source_a),
                                                                  ("B", source_b))}
        count = sum(len(f) for f in files.values())
        splits = {"A": "test", "B": "train"}
        out = {name: tmp / f"imported_{name}" for name in splits}

        def rsvl_import() -> None:
            for name, source in (("A", source_a), ("B", source_b)):
                shutil.rmtree(out[name], ignore_errors=True)
                import_dataset("folder", source, out[name], name=f"bench_{name}",
                               licence="synthetic", split=splits[name])

        def bare_import() -> None:
            for name in files:
                shutil.rmtree(tmp / f"bare_{name}", ignore_errors=True)
                baseline_import(files[name], tmp / f"bare_{name}")

        def rsvl_dedup() -> set[str]:
            report = deduplicate([load_image_set(out["A"], ("test",))],
                                 [load_image_set(out["B"], ("train",))], tmp / "overlaps")
            return {m.train_key for m in report.matches}

        def bare_dedup() -> set[str]:
            paths = {name: sorted((out[name] / "images").iterdir()) for name in out}
            return baseline_dedup(paths["A"], paths["B"], DEFAULT_MAX_DISTANCE)

        loops: dict[str, Callable[[], Any]] = {"rsvl import": rsvl_import,
                                               "baseline import": bare_import,
                                               "rsvl dedup": rsvl_dedup,
                                               "baseline dedup": bare_dedup}
        seconds, found = alternated_rounds(loops, args.rounds)
    speed = {name: count / statistics.median(times) for name, times in seconds.items()}
    results: dict[str, Any] = {}
    for stage in ("import", "dedup"):
        ours, base = speed[f"rsvl {stage}"], speed[f"baseline {stage}"]
        results[stage] = {"rsvl_images_per_s": round(ours, 1),
                          "baseline_images_per_s": round(base, 1), "ratio": round(ours / base, 3),
                          "rsvl_s": seconds[f"rsvl {stage}"],
                          "baseline_s": seconds[f"baseline {stage}"]}
        print(f"{stage:7} rsvl {ours:.0f}/s  baseline {base:.0f}/s  ratio {ours / base:.2f}")
    ours_keys, bare_keys = found["rsvl dedup"], found["baseline dedup"]
    same = ours_keys == bare_keys
    planted_found = sum(key.split("_")[-1].startswith("copy") for key in ours_keys)
    print(f"{count} images ({len(files['A'])} A/test, {len(files['B'])} B/train, {copies} "
          f"planted copies), median of {args.rounds} rounds; rsvl removed {len(ours_keys)} "
          f"({planted_found} planted), baseline {len(bare_keys)}: "
          f"{'same keys' if same else 'KEYS DIFFER'}")
    write_json(RESULTS, {
        "benchmark": "import_dedup", "python": platform.python_version(), "images": count,
        "planted": copies, "rounds": args.rounds, "region": [args.size_m, args.gsd_m],
        "results": results, "removed": len(ours_keys), "planted_removed": planted_found,
        "baseline_removed": len(bare_keys), "same_keys": same,
    })
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
