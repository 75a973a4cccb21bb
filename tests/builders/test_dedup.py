"""De-duplication: planted re-encoded/resized/flipped copies found, distinct images kept apart."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsvl.builders import dedup
from rsvl.builders.dedup import (
    ImageSet,
    deduplicate,
    dihedral_phashes,
    find_matches,
    load_image_set,
    nearest_phash,
    parse_set,
    phash,
    pixel_sha256,
)
from rsvl.builders.importers import import_dataset
from rsvl.cli import build_dedup
from rsvl.errors import ConfigError, InputError


def reencoded(image: Image.Image, quality: int = 60) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def halved(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)


def flipped(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def with_building(image: Image.Image) -> Image.Image:
    """The same ground with a large new roof: similar, but a different image."""
    changed = image.copy()
    changed.paste((235, 235, 235), (30, 30, 70, 70))
    return changed


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def test_phash_is_64_bits_and_stable_under_reencoding_and_resizing(scene):
    image = scene(0, size=128)
    assert 0 <= phash(image) < 2**64
    assert hamming(phash(image), phash(reencoded(image))) <= 4
    assert hamming(phash(image), phash(halved(image))) <= 4
    # Distinct scenes differ in about half their bits.
    assert hamming(phash(image), phash(scene(1, size=128))) > 16


def test_flipped_copy_matches_one_of_the_dihedral_variants(scene):
    image = scene(2)
    variants = dihedral_phashes(flipped(image))
    assert variants.dtype == np.uint64 and variants.shape == (8,)
    assert min(hamming(int(v), phash(image)) for v in variants) <= 2
    assert hamming(phash(flipped(image)), phash(image)) > 16  # why variants are needed


def test_nearest_phash_matches_a_naive_search_across_chunks(monkeypatch):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 2**63, (37, 8), dtype=np.uint64)
    evaluation = rng.integers(0, 2**63, (11, 8), dtype=np.uint64)
    monkeypatch.setattr(dedup, "_BLOCK_BYTES", 8 * 8 * 11 * 5)  # chunks of 5 training rows
    index, distance = nearest_phash(train, evaluation)
    naive = np.array([[min(bin(int(t) ^ int(e)).count("1") for t in row)
                       for e in evaluation[:, 0]] for row in train])
    assert (distance == naive.min(axis=1)).all()
    assert (naive[np.arange(37), index] == distance).all()


def save_folder_set(root, images: dict[str, Image.Image], split: str) -> None:
    folder = root / "src" / "scene"
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        image.convert("RGB").save(folder / name)
    import_dataset("folder", root / "src", root, name=root.name, licence="CC0", split=split)


@pytest.fixture
def planted(tmp_path, scene):
    """An evaluation set of 6 scenes and a training set holding planted copies and others."""
    originals = {f"e{i}.png": scene(i, size=128) for i in range(6)}
    evaluation, train = tmp_path / "evalset", tmp_path / "trainset"
    save_folder_set(evaluation, originals, "test")
    save_folder_set(train, {
        "copy.png": originals["e0.png"],
        "q60.jpg": reencoded(originals["e1.png"]),
        "half.png": halved(originals["e2.png"]),
        "flip.png": flipped(originals["e3.png"]),
        "similar.png": with_building(originals["e4.png"]),
        **{f"other{i}.png": scene(100 + i, size=128) for i in range(4)},
    }, "train")
    return evaluation, train


def test_deduplicate_finds_planted_copies_and_keeps_distinct_images(planted, tmp_path):
    evaluation, train = planted
    report = deduplicate([load_image_set(evaluation, ["test"])],
                         [load_image_set(train, ["train"])], tmp_path / "report")
    removed = json.loads((train / "removed.json").read_text())["removed"]
    assert {k: (v["match_key"], v["method"]) for k, v in removed.items()} == {
        "scene_copy": ("scene_e0", "exact"),
        "scene_q60": ("scene_e1", "near"),
        "scene_half": ("scene_e2", "near"),
        "scene_flip": ("scene_e3", "near"),
    }
    assert all(v["match_dataset"] == "evalset:test" for v in removed.values())
    assert report.table == [{"eval": "evalset:test", "train": "trainset:train",
                             "eval_images": 6, "train_images": 9, "exact": 1, "near": 3,
                             "embedding": 0, "shared": 4}]
    csv_lines = (tmp_path / "report" / "overlaps.csv").read_text().splitlines()
    assert csv_lines[1] == "evalset:test,trainset:train,6,9,1,3,0,4"
    assert "| evalset:test | trainset:train | 6 | 9 | 1 | 3 | 0 | 4 |" in (
        tmp_path / "report" / "overlaps.md").read_text()


def test_exact_hash_ignores_encoding_but_not_pixels(scene, tmp_path):
    image = scene(5)
    image.save(tmp_path / "a.png")
    image.save(tmp_path / "b.bmp")
    png, bmp = Image.open(tmp_path / "a.png"), Image.open(tmp_path / "b.bmp")
    assert pixel_sha256(png) == pixel_sha256(bmp)
    assert pixel_sha256(image) != pixel_sha256(reencoded(image, 95))


def fake_set(name: str, keys: list[str]) -> ImageSet:
    """A set whose fingerprints never match (distinct hashes far apart)."""
    count = len(keys)
    hashes = np.array([[0xFFFFFFFF00000000 if name == "a" else 0x00000000FFFFFFFF] * 8] * count,
                      dtype=np.uint64)
    return ImageSet(name, Path(name), ("test",), keys, [], [f"{name}{k}" for k in keys],
                    hashes.reshape(-1, 8))


def test_embedding_similarity_catches_what_hashes_miss():
    train, evaluation = fake_set("a", ["t0", "t1"]), fake_set("b", ["e0", "e1"])
    train_vectors = np.array([[1.0, 0.0], [0.0, 1.0]])
    eval_vectors = np.array([[0.6, 0.8], [0.999, np.sqrt(1 - 0.999**2)]])
    matches = find_matches(train, evaluation, 6, (train_vectors, eval_vectors), min_cosine=0.99)
    assert [(m.train_key, m.eval_key, m.method, m.distance) for m in matches] == [
        ("t0", "e1", "embedding", 0.999)]


@pytest.mark.slow
def test_embed_images_with_a_scratch_model(planted):
    from rsvl.models import load_clip

    evaluation, _ = planted
    image_set = load_image_set(evaluation, ["test"])
    vectors = dedup.embed_images(image_set, load_clip("rsvl-micro", device="cpu"), batch_size=4)
    assert vectors.shape[0] == 6
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_set_parsing_and_configuration_errors(planted):
    evaluation, train = planted
    assert parse_set(f"{train}:train,val", ["test"]) == (train, ("train", "val"))
    assert parse_set(str(train), ["val", "test"]) == (train, ("val", "test"))
    with pytest.raises(ConfigError, match="unknown split 'holdout'"):
        parse_set(f"{train}:holdout", ["test"])
    train_set = load_image_set(train, ["train"])
    with pytest.raises(ConfigError, match="split 'train' is both evaluation and training"):
        deduplicate([load_image_set(train, ["train"])], [train_set])
    with pytest.raises(ConfigError, match="given twice as a training set"):
        deduplicate([load_image_set(evaluation, ["test"])], [train_set, train_set])
    with pytest.raises(ConfigError, match="within 0..64"):
        deduplicate([load_image_set(evaluation, ["test"])], [train_set], max_distance=65)


def test_corrupt_image_names_the_file_and_record(planted):
    _, train = planted
    (train / "images" / "scene_half.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"scene_half.png: cannot decode the image of record "
                                         r"scene_half"):
        load_image_set(train, ["train"])


def test_cli_dedup_prints_the_table(planted, tmp_path, capsys):
    evaluation, train = planted
    parser = argparse.ArgumentParser()
    build_dedup.add_arguments(parser)
    args = parser.parse_args(["--eval", str(evaluation), "--train", str(train),
                              "--out", str(tmp_path / "report")])
    assert build_dedup.run(args) == 0
    printed = capsys.readouterr().out
    assert "| evalset:val,test | trainset:train | 6 | 9 | 1 | 3 | 0 | 4 |" in printed
    assert f"{train / 'removed.json'}: written" in printed
