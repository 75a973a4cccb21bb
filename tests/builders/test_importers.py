"""Importers: Karpathy JSON, CSV/TSV, class folders and Hugging Face datasets into rsvl shards."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rsvl.builders.importers import get_format, import_dataset, list_formats
from rsvl.builders.importers.base import key_from_path, normalise_split
from rsvl.builders.importers.folder import caption
from rsvl.cli import main
from rsvl.data.records import read_records
from rsvl.data.shards import iter_shard, list_shards, read_sizes
from rsvl.errors import ConfigError, InputError


def write_karpathy(tmp_path: Path, scene, entries: list[dict]) -> Path:
    """Save one scene per entry in ``tmp_path/imgs`` and the caption JSON in that folder."""
    images = tmp_path / "imgs"
    images.mkdir(exist_ok=True)
    for seed, entry in enumerate(entries):
        if entry.get("make_image", True):
            scene(seed).save(images / entry["filename"])
        entry.pop("make_image", None)
    path = images / "dataset_toy.json"
    path.write_text(json.dumps({"images": entries}))
    return path


def karpathy_entry(name: str, split: str, *captions: str) -> dict:
    return {"filename": name, "split": split, "sentences": [{"raw": c} for c in captions]}


def test_karpathy_import_writes_records_images_shards_parquet(tmp_path, scene):
    source = write_karpathy(tmp_path, scene, [
        karpathy_entry("airport_1.jpg", "train", "an airport", "planes parked"),
        karpathy_entry("beach_2.jpg", "valid", "a beach"),
        karpathy_entry("river_3.tif", "test", "a river", " a bridge over a river "),
        karpathy_entry("farm_4.jpg", "dev", "fields"),
    ])
    out = tmp_path / "out"
    (tmp_path / "elsewhere").mkdir()
    moved = source.rename(tmp_path / "elsewhere" / source.name)
    records = import_dataset("karpathy", moved, out, name="toy", licence="CC-BY-4.0",
                             images_dir=tmp_path / "imgs", shard_size=3)

    by_key = {r.key: r for r in read_records(out / "records.jsonl")}
    assert sorted(by_key) == ["airport_1", "beach_2", "farm_4", "river_3"]
    assert [r.key for r in records] == sorted(by_key)
    assert {k: r.split for k, r in by_key.items()} == {
        "airport_1": "train", "beach_2": "val", "farm_4": "val", "river_3": "test"}
    assert by_key["beach_2"].extra["source_split"] == "valid"
    assert by_key["river_3"].captions == ["a river", "a bridge over a river"]
    assert all(r.source == "toy" and r.licence == "CC-BY-4.0" for r in records)
    # JPEGs are copied byte for byte; the TIFF is re-encoded losslessly as PNG.
    assert (out / by_key["airport_1"].image).read_bytes() == (
        tmp_path / "imgs" / "airport_1.jpg").read_bytes()
    assert by_key["river_3"].image == "images/river_3.png"

    # One shard folder per split: train 1, val 2, test 1 (shards of 3).
    assert {s: read_sizes(out / "shards" / s) for s in ("train", "val", "test")} == {
        "train": {"00000.tar": 1}, "val": {"00000.tar": 2}, "test": {"00000.tar": 1}}
    samples = {split: [s for shard in list_shards(out / "shards" / split)
                       for s in iter_shard(shard)] for split in ("train", "val", "test")}
    assert [s.key for s in samples["val"]] == ["beach_2", "farm_4"]
    assert all(s.record["split"] == split for split, got in samples.items() for s in got)
    assert samples["train"][0].caption == "an airport"
    assert samples["train"][0].record["source"] == "toy"
    rows = {split: pq.read_table(out / "parquet" / f"{split}.parquet").num_rows
            for split in ("train", "val", "test")}
    assert rows == {"train": 1, "val": 2, "test": 1}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["images"] == 4 and manifest["config"]["format"] == "karpathy"
    assert manifest["osm_attribution"] is None  # imported sets hold no OpenStreetMap data
    assert manifest["shards"] == {"train": 1, "val": 1, "test": 1}
    assert manifest["open_clip"] == {"train_data": f"{out}/shards/train/{{00000..00000}}.tar",
                                     "train_num_samples": 1, "dataset_type": "webdataset"}


def test_rerun_reuses_stored_images(tmp_path, scene):
    source = write_karpathy(tmp_path, scene, [karpathy_entry("a.jpg", "train", "x")])
    out = tmp_path / "out"
    import_dataset("karpathy", source, out, name="toy", licence="CC0")
    stored = out / "images" / "a.jpg"
    stored.write_bytes(stored.read_bytes() + b"marker")  # an earlier run's file is kept
    import_dataset("karpathy", source, out, name="toy", licence="CC0")
    assert stored.read_bytes().endswith(b"marker")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([karpathy_entry("a.jpg", "train", "x"),
          {**karpathy_entry("gone.jpg", "train", "y"), "make_image": False}],
         r"images\[1\] \(gone.jpg\): image not found: .*gone.jpg$"),
        ([karpathy_entry("a.jpg", "train", "x"), karpathy_entry("a.jpg", "test", "y")],
         r"images\[1\] \(a.jpg\): duplicated key 'a' \(also .*images\[0\] \(a.jpg\)\)"),
        ([karpathy_entry("a.jpg", "train", "x", "  ")],
         r"images\[0\] \(a.jpg\): empty caption"),
        ([karpathy_entry("a.jpg", "train")], r"images\[0\] \(a.jpg\): empty caption"),
        ([karpathy_entry("a.jpg", "holdout", "x")],
         r"images\[0\] \(a.jpg\): unknown split 'holdout'"),
    ],
    ids=["missing-image", "duplicated-key", "blank-caption", "no-caption", "unknown-split"],
)
def test_bad_karpathy_input_is_one_line_and_writes_nothing(tmp_path, scene, entries, message):
    source = write_karpathy(tmp_path, scene, entries)
    with pytest.raises(InputError, match=message) as caught:
        import_dataset("karpathy", source, tmp_path / "out", name="toy", licence="CC0")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out" / "records.jsonl").exists()


def test_malformed_karpathy_json_names_file_and_line(tmp_path):
    source = tmp_path / "caps.json"
    source.write_text('{"images": [\n{"filename": "a.jpg",,}\n]}')
    with pytest.raises(InputError, match=r"caps.json: malformed JSON at line 2"):
        import_dataset("karpathy", source, tmp_path / "out", name="toy", licence="CC0")


def test_csv_groups_captions_and_reads_split_column(tmp_path, scene):
    (tmp_path / "pics").mkdir()
    scene(1).save(tmp_path / "pics" / "p1.png")
    scene(2).save(tmp_path / "pics" / "p 2.jpg")
    table = tmp_path / "pairs.tsv"
    table.write_text("filepath\ttitle\tsplit\n"
                     "pics/p1.png\tgreen fields\ttrain\n"
                     "pics/p 2.jpg\ta harbour\tvalidation\n"
                     "pics/p1.png\tcrops in rows\ttrain\n")
    records = import_dataset("csv", table, tmp_path / "out", name="pairs", licence="CC0",
                             split_column="split")
    assert [(r.key, r.captions, r.split) for r in records] == [
        ("pics_p1", ["green fields", "crops in rows"], "train"),
        ("pics_p_2", ["a harbour"], "val"),
    ]
    assert records[0].image == "images/pics_p1.png"


def test_csv_custom_columns_and_separator(tmp_path, scene):
    scene(1).save(tmp_path / "x.jpg")
    table = tmp_path / "pairs.csv"
    table.write_text("img;text\nx.jpg;a lake\n")
    records = import_dataset("csv", table, tmp_path / "out", name="p", licence="CC0",
                             image_column="img", caption_column="text", separator=";",
                             split="test")
    assert [(r.key, r.captions, r.split) for r in records] == [("x", ["a lake"], "test")]


def test_csv_missing_column_lists_the_columns(tmp_path):
    table = tmp_path / "pairs.csv"
    table.write_text("path,caption\nx.jpg,a lake\n")
    expected = r"no column 'filepath'; columns are \['path', 'caption'\]"
    with pytest.raises(InputError, match=expected):
        import_dataset("csv", table, tmp_path / "out", name="p", licence="CC0")


def test_caption_template_errors_are_config_errors():
    assert caption("an aerial view of {c}", "forest") == "an aerial view of forest"
    with pytest.raises(ConfigError, match="use the {class} placeholder"):
        caption("a photo of {klass}", "forest")


def test_folder_import_with_split_folders_templates_and_overrides(tmp_path, scene):
    for index, (split, cls) in enumerate([("train", "SeaLake"), ("train", "railwaystation"),
                                          ("test", "SeaLake")]):
        folder = tmp_path / "ds" / split / cls
        folder.mkdir(parents=True, exist_ok=True)
        scene(index).save(folder / f"{index}.jpg")
    (tmp_path / "ds" / "test" / "SeaLake" / "notes.txt").write_text("not an image")
    records = import_dataset(
        "folder", tmp_path / "ds", tmp_path / "out", name="cls", licence="CC0",
        templates=["a satellite image of {class}", "{class} from above"],
        class_names={"railwaystation": "railway station"},
    )
    assert [(r.key, r.split, r.captions) for r in records] == [
        ("test_SeaLake_2", "test", ["a satellite image of sea lake", "sea lake from above"]),
        ("train_SeaLake_0", "train", ["a satellite image of sea lake", "sea lake from above"]),
        ("train_railwaystation_1", "train",
         ["a satellite image of railway station", "railway station from above"]),
    ]
    assert records[0].extra["class_folder"] == "SeaLake"


def test_folder_without_split_folders_uses_the_given_split(tmp_path, scene):
    (tmp_path / "ds" / "forest").mkdir(parents=True)
    scene(0).save(tmp_path / "ds" / "forest" / "f.jpg")
    records = import_dataset("folder", tmp_path / "ds", tmp_path / "out", name="c",
                             licence="CC0", split="test")
    assert [(r.split, r.captions) for r in records] == [("test", ["a satellite image of forest"])]


def test_hf_parquet_round_trip_of_an_imported_dataset(tmp_path, scene):
    source = write_karpathy(tmp_path, scene, [
        karpathy_entry("a.jpg", "train", "one", "two"), karpathy_entry("b.jpg", "test", "three"),
    ])
    first = import_dataset("karpathy", source, tmp_path / "first", name="k", licence="CC0")
    files = {s: str(tmp_path / "first" / "parquet" / f"{s}.parquet") for s in ("train", "test")}
    second = import_dataset("hf", "parquet", tmp_path / "second", name="k2", licence="CC0",
                            data_files=files, caption_column="captions",
                            cache_dir=tmp_path / "hf-cache")
    assert [(r.key, r.captions, r.split) for r in second] == [
        (r.key, r.captions, r.split) for r in first]
    assert (tmp_path / "second" / "images" / "a.jpg").read_bytes() == (
        tmp_path / "first" / "images" / "a.jpg").read_bytes()


def test_hf_missing_column_is_one_line(tmp_path, scene):
    source = write_karpathy(tmp_path, scene, [karpathy_entry("a.jpg", "train", "one")])
    import_dataset("karpathy", source, tmp_path / "first", name="k", licence="CC0")
    files = {"train": str(tmp_path / "first" / "parquet" / "train.parquet")}
    with pytest.raises(InputError, match=r"parquet \[train\]: no column 'text'"):
        import_dataset("hf", "parquet", tmp_path / "second", name="k2", licence="CC0",
                       data_files=files, cache_dir=tmp_path / "hf-cache")


def test_registry_and_option_checks(tmp_path):
    assert list_formats() == ["csv", "folder", "hf", "karpathy"]
    assert "templates" in get_format("folder").OPTIONS
    with pytest.raises(ConfigError, match="unknown import format 'coco'"):
        get_format("coco")
    with pytest.raises(ConfigError, match="format 'karpathy' takes no option 'templates'"):
        import_dataset("karpathy", tmp_path / "x.json", tmp_path / "o", name="n", licence="l",
                       templates=["{class}"])


def test_split_and_key_helpers():
    assert [normalise_split(s, "f") for s in ("Train", "VAL", "dev", "testing", "restval")] == [
        "train", "val", "val", "test", "train"]
    assert key_from_path("train2014/COCO 001.jpg") == "train2014_COCO_001"


def test_cli_import_csv(tmp_path, scene, capsys):
    scene(3).save(tmp_path / "x.jpg")
    (tmp_path / "pairs.csv").write_text("filepath,title\nx.jpg,a lake\n")
    argv = [str(tmp_path / "pairs.csv"), "--format", "csv", "--out", str(tmp_path / "out"),
            "--name", "p", "--licence", "CC0", "--split", "val"]
    assert main(["build", "import", *argv]) == 0
    output = capsys.readouterr().out
    assert "1 images" in output
    assert "open_clip: no training split, nothing to train on" in output  # val only
    assert [r.split for r in read_records(tmp_path / "out" / "records.jsonl")] == ["val"]
    argv[-1] = "train"
    assert main(["build", "import", *argv[:4], str(tmp_path / "train"), *argv[5:]]) == 0
    pattern = f"{tmp_path}/train/shards/train/{{00000..00000}}.tar"
    assert f'--train-data "{pattern}" --train-num-samples 1' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("filepath", "filename", "why"),
    [("", "../outside.jpg", r"a '\.\.' component"),
     ("..", "outside.jpg", r"a '\.\.' component"),
     ("", "{outside}", "an absolute path"),
     ("", "link.jpg", r"it resolves to .*outside\.jpg \(a symlink\)")],
    ids=["dotdot", "dotdot-in-filepath", "absolute", "symlink"],
)
def test_karpathy_image_paths_may_not_leave_the_images_dir(tmp_path, scene, filepath, filename,
                                                           why):
    images = tmp_path / "imgs"
    images.mkdir()
    scene(0).save(tmp_path / "outside.jpg")  # readable, but not the dataset's
    (images / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    entry = {**karpathy_entry(filename.format(outside=tmp_path / "outside.jpg"), "train", "x"),
             "filepath": filepath}
    source = images / "caps.json"
    source.write_text(json.dumps({"images": [entry]}))
    with pytest.raises(InputError, match=rf"caps\.json: images\[0\]: image path .* leaves the "
                       rf"images folder .*imgs \({why}\); .*--allow-outside-images-dir") as caught:
        import_dataset("karpathy", source, tmp_path / "out", name="toy", licence="CC0")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()
    # Trusted caption files may point anywhere.
    records = import_dataset("karpathy", source, tmp_path / "out", name="toy", licence="CC0",
                             allow_outside_images_dir=True)
    assert len(records) == 1


def test_csv_and_folder_image_paths_may_not_leave_their_folder(tmp_path, scene, capsys):
    scene(0).save(tmp_path / "secret.jpg")
    (tmp_path / "data").mkdir()
    table = tmp_path / "data" / "pairs.csv"
    table.write_text(f"filepath,title\n{tmp_path / 'secret.jpg'},a lake\n")
    argv = ["build", "import", str(table), "--format", "csv", "--out", str(tmp_path / "out"),
            "--name", "p", "--licence", "CC0"]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert re.fullmatch(r"rsvl build: error: .*pairs\.csv:2: image path '.*secret\.jpg' leaves "
                        r"the images folder .*data \(an absolute path\); .*", error), error
    assert main([*argv, "--allow-outside-images-dir"]) == 0
    # A class folder whose image is a symlink out of the dataset root.
    (tmp_path / "classes" / "beach").mkdir(parents=True)
    (tmp_path / "classes" / "beach" / "b.jpg").symlink_to(tmp_path / "secret.jpg")
    with pytest.raises(InputError, match=r"classes: image path 'beach/b\.jpg' leaves the images "
                       r"folder .*classes \(it resolves to .*secret\.jpg \(a symlink\)\)"):
        import_dataset("folder", tmp_path / "classes", tmp_path / "out2", name="f",
                       licence="CC0")
