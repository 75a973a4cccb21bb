"""Loaders on tiny generated fixtures of each layout, with broken inputs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rsvl.errors import InputError
from rsvl.evaluation.datasets import (
    Completeness,
    describe,
    load_classification,
    load_retrieval,
)


def test_class_folders_with_jpeg_png_tiff(class_tree: Path) -> None:
    dataset = load_classification(class_tree)
    assert dataset.layout == "class_folders" and dataset.split == "all"
    assert dataset.classes == ["SeaLake", "golf_course", "railwaystation"]
    assert dataset.classnames == ["sea lake", "golf course", "railway station"]
    assert len(dataset.paths) == 10  # the broken JPEG is listed; it is skipped when decoded
    assert dataset.labels.count(0) == 4
    assert {p.suffix for p in dataset.paths} == {".jpg", ".png", ".tif"}


def test_empty_class_folder_is_one_clear_error(class_tree: Path) -> None:
    (class_tree / "empty_class").mkdir()
    with pytest.raises(InputError, match="class folder .*empty_class holds no images"):
        load_classification(class_tree)


def test_class_name_overrides_must_match_the_folders(class_tree: Path) -> None:
    named = load_classification(class_tree, class_names={"sealake": "lake or sea"})
    assert named.classnames[0] == "lake or sea"
    with pytest.raises(InputError, match="not in its folders \\(forest\\)"):
        load_classification(class_tree, class_names={"Forest": "forest"})


def test_flat_folder_with_class_in_file_name(tmp_path: Path,
                                             image_writer: Callable[..., Path]) -> None:
    for i, name in enumerate(["airport_01.jpg", "airport_02.png", "sea_lake-3.tif", "river12.jpg"]):
        image_writer(tmp_path / "flat" / name, seed=i)
    dataset = load_classification(tmp_path / "flat")
    assert dataset.layout == "flat"
    assert dataset.classes == ["airport", "river", "sea_lake"]
    assert dataset.labels == [0, 0, 1, 2]
    image_writer(tmp_path / "flat" / "12345.jpg", seed=9)
    with pytest.raises(InputError, match="cannot read a class from file name .*12345.jpg"):
        load_classification(tmp_path / "flat")


def test_registered_dataset_checks_its_class_folders(tmp_path: Path, shared_data: Path) -> None:
    dataset = load_classification("whu-rs19", root=shared_data / "whu_rs19_mini",
                                  allow_partial=True)
    assert dataset.name == "whu-rs19" and len(dataset.classes) == 19
    assert "railway station" in dataset.classnames
    partial = tmp_path / "WHU-RS19"
    shutil.copytree(shared_data / "whu_rs19_mini" / "airport", partial / "airport")
    with pytest.raises(InputError, match="do not match WHU-RS19's 19 classes .*missing: Beach"):
        load_classification("whu-rs19", root=tmp_path)


def test_missing_root_names_the_source() -> None:
    with pytest.raises(InputError, match="EuroSAT.*not found.*github.com/phelber/EuroSAT"):
        load_classification("eurosat", root="/nonexistent/data")


def test_karpathy_json_test_split(karpathy: Path) -> None:
    dataset = load_retrieval(karpathy)
    assert dataset.layout == "karpathy_json" and dataset.split == "test"
    assert [p.name for p in dataset.image_paths] == ["im0.png", "im1.png", "im2.png", "im3.png"]
    assert dataset.caption_image == [0, 0, 1, 1, 2, 2, 3, 3]
    assert dataset.captions[3] == "scene 1 caption 1"
    assert len(load_retrieval(karpathy.parent, split="all").image_paths) == 5


def test_karpathy_json_without_test_split(karpathy: Path) -> None:
    payload = json.loads(karpathy.read_text())
    for image in payload["images"]:
        image["split"] = "train"
    karpathy.write_text(json.dumps(payload))
    with pytest.raises(InputError, match="no images in split 'test' \\(splits present: train\\)"):
        load_retrieval(karpathy)


def test_karpathy_json_broken(tmp_path: Path) -> None:
    (tmp_path / "dataset.json").write_text('{"images": [')
    with pytest.raises(InputError, match="not valid JSON"):
        load_retrieval(tmp_path / "dataset.json")
    (tmp_path / "dataset.json").write_text('{"annotations": []}')
    with pytest.raises(InputError, match="has no 'images' list"):
        load_retrieval(tmp_path / "dataset.json")


def test_karpathy_json_images_missing(karpathy: Path) -> None:
    shutil.rmtree(karpathy.parent / "images")
    with pytest.raises(InputError, match="images of .* not found: looked for im0.png"):
        load_retrieval(karpathy)


def test_caption_csv(tmp_path: Path, image_writer: Callable[..., Path]) -> None:
    for i in range(2):
        image_writer(tmp_path / "chips" / f"c{i}.jpg", seed=i)
    csv_path = tmp_path / "captions.csv"
    csv_path.write_text("filepath,caption\nchips/c0.jpg,a red roof\nchips/c1.jpg,a pond\n"
                        "chips/c0.jpg,\"roof, red\"\n")
    dataset = load_retrieval(csv_path)
    assert dataset.layout == "csv" and dataset.split == "all"
    assert [p.name for p in dataset.image_paths] == ["c0.jpg", "c1.jpg"]
    assert dataset.caption_image == [0, 1, 0] and dataset.captions[2] == "roof, red"
    tsv_path = tmp_path / "captions.tsv"
    tsv_path.write_text("filepath\ttitle\tsplit\nchips/c0.jpg\ta\ttrain\nchips/c1.jpg\tb\ttest\n")
    assert load_retrieval(tsv_path).captions == ["b"]
    (tmp_path / "bad.csv").write_text("image_name,words\nx.jpg,y\n")
    with pytest.raises(InputError, match="no image path column"):
        load_retrieval(tmp_path / "bad.csv")


def test_a_partial_registered_benchmark_is_refused_unless_allowed(shared_data: Path) -> None:
    mini = shared_data / "whu_rs19_mini"
    with pytest.raises(InputError, match=r"WHU-RS19 at .* is incomplete \(190 of its 1005 images "
                       r"were found\); get WHU-RS19 from .*--allow-partial"):
        load_classification("whu-rs19", root=mini)
    dataset = load_classification("whu-rs19", root=mini, allow_partial=True)
    assert dataset.completeness == Completeness(1005, 190, 0, True)
    assert describe(dataset)["completeness"]["partial"] is True
    assert load_classification(mini).completeness is None  # a plain folder has no count


def test_a_retrieval_benchmark_with_missing_images_is_refused(karpathy: Path,
                                                              tmp_path: Path) -> None:
    home = tmp_path / "RSICD"
    home.mkdir()
    (home / "images").symlink_to(karpathy.parent / "images")
    payload = json.loads(karpathy.read_text())
    (home / "dataset_rsicd.json").write_text(json.dumps(payload))
    with pytest.raises(InputError, match=r"RSICD .* is incomplete \(5 of its 10921 images"):
        load_retrieval("rsicd", root=tmp_path)
    dataset = load_retrieval("rsicd", root=tmp_path, allow_partial=True)
    assert dataset.completeness == Completeness(10921, 5, 0, True)
    (karpathy.parent / "images" / "im1.png").unlink()
    with pytest.raises(InputError, match="1 listed images are missing"):
        load_retrieval("rsicd", root=tmp_path)
