"""Fuzzed readers: real input files, mutated, end in a valid result or rsvl's own one-line
error (an ``RsvlError``), never another exception type.

Seeds: the OSM edge-case file and the West Oakland extract (OSM XML), Sintra's features
(GeoJSON), the first images of RSICD's Karpathy JSON (and the same as a CSV), the first images of
the RSVQA LR sample; the tag cleaner gets real and random tags. Inputs per reader:
``RSVL_FUZZ_EXAMPLES`` (60 in CI, the same every run: derandomized).
"""

from __future__ import annotations

import bz2
import csv
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rsvl.errors import RsvlError
from tests.fuzz.mutations import (
    FUZZ,
    byte_mutations,
    json_bytes,
    json_mutations,
    report,
)

pytestmark = pytest.mark.slow  # about a minute for all readers on 2 cores

TEST_DATA = Path(__file__).resolve().parents[1] / "data"


def _outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or None when it raised rsvl's own error; anything else propagates."""
    try:
        return call()
    except RsvlError as error:
        message = str(error)
        assert message and "\n" not in message.strip(), message  # one line
        return None


class _Counter:
    def __init__(self) -> None:
        self.inputs = 0


def _fuzz(reader: str, strategy: st.SearchStrategy[Any], check: Callable[[Any], None]) -> None:
    """Run ``check`` on FUZZ examples of ``strategy``; record the number of inputs."""
    counter = _Counter()

    @FUZZ
    @given(strategy)
    def run(example: Any) -> None:
        counter.inputs += 1
        check(example)

    run()
    report(reader, counter.inputs)


def _mutated_text(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(byte_mutations(seed), st.just(seed))


# OSM XML and GeoJSON through rsvl.osm.read_features


@pytest.fixture(scope="module")
def osm_seeds(shared_data: Path) -> list[bytes]:
    oakland = bz2.decompress((shared_data / "osm" / "west-oakland.osm.bz2").read_bytes())
    return [(TEST_DATA / "osm_edge_cases" / "edge_cases.osm").read_bytes(), oakland]


def _read_features(data: bytes, suffix: str) -> None:
    import geopandas as gpd

    from rsvl.osm import read_features

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"extract{suffix}"
        path.write_bytes(data)
        features = _outcome(lambda: read_features(path))
    if features is not None:
        assert isinstance(features, gpd.GeoDataFrame)
        assert {"osm_id", "tags", "geometry"} <= set(features.columns)


def test_osm_xml(osm_seeds: list[bytes]) -> None:
    strategy = st.sampled_from(osm_seeds).flatmap(_mutated_text)
    _fuzz("osm_xml", strategy, lambda data: _read_features(data, ".osm"))


@pytest.fixture(scope="module")
def geojson_seed(shared_data: Path) -> dict[str, Any]:
    document = json.loads((shared_data / "sintra" / "osm_features.geojson").read_text())
    document["features"] = document["features"][:12]  # small: every slot reachable
    return document


def test_geojson_bytes(geojson_seed: dict[str, Any]) -> None:
    _fuzz("geojson_bytes", byte_mutations(json_bytes(geojson_seed)),
          lambda data: _read_features(data, ".geojson"))


def test_geojson_structure(geojson_seed: dict[str, Any]) -> None:
    _fuzz("geojson_structure", json_mutations(geojson_seed).map(json_bytes),
          lambda data: _read_features(data, ".geojson"))


# Karpathy JSON and CSV importers (read_items, then the checks every import runs)


@pytest.fixture(scope="module")
def karpathy_seed(shared_data: Path) -> tuple[dict[str, Any], Path]:
    root = shared_data / "rsicd_val"
    document = json.loads((root / "dataset_rsicd_val.json").read_text())
    document["images"] = document["images"][:4]
    return document, root / "images"


def _import_items(data: bytes, name: str, images: Path, **options: Any) -> None:
    from rsvl.builders.importers import karpathy, table
    from rsvl.builders.importers.base import validate_items

    reader = karpathy if name.endswith(".json") else table
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        checked = _outcome(lambda: validate_items(
            reader.read_items(path, images_dir=images, **options)))
    for item, split in checked or []:
        assert isinstance(item.key, str) and split in ("train", "val", "test")
        assert all(isinstance(c, str) for c in item.captions)


def test_karpathy_bytes(karpathy_seed: tuple[dict[str, Any], Path]) -> None:
    document, images = karpathy_seed
    _fuzz("karpathy_bytes", byte_mutations(json_bytes(document)),
          lambda data: _import_items(data, "captions.json", images))


def test_karpathy_structure(karpathy_seed: tuple[dict[str, Any], Path]) -> None:
    document, images = karpathy_seed
    _fuzz("karpathy_structure", json_mutations(document).map(json_bytes),
          lambda data: _import_items(data, "captions.json", images))


def test_csv_bytes(karpathy_seed: tuple[dict[str, Any], Path]) -> None:
    document, images = karpathy_seed
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["filepath", "title", "split"])
    for entry in document["images"]:
        for sentence in entry["sentences"][:2]:
            writer.writerow([entry["filename"], sentence["raw"], entry["split"]])
    seed = buffer.getvalue().encode()
    _fuzz("csv_bytes", byte_mutations(seed),
          lambda data: _import_items(data, "captions.csv", images, split_column="split"))


# RSVQA JSON (questions, answers, images files of one split)


@pytest.fixture(scope="module")
def rsvqa_seed(shared_data: Path) -> tuple[dict[str, Any], Path]:
    root = shared_data / "rsvqa_lr_sample"
    parts = {part: json.loads((root / f"LR_split_sample_{part}.json").read_text())
             for part in ("questions", "answers", "images")}
    images = [i for i in parts["images"]["images"] if i.get("active", True)][:2]
    ids = {i["id"] for i in images}
    questions = [q for q in parts["questions"]["questions"] if q["img_id"] in ids][:6]
    answer_ids = {a for q in questions for a in q["answers_ids"]}
    answers = [a for a in parts["answers"]["answers"] if a["id"] in answer_ids]
    return {"questions": {"questions": questions}, "answers": {"answers": answers},
            "images": {"images": images}}, root / "Images_LR"


def _read_rsvqa(parts: dict[str, bytes], images: Path) -> None:
    from rsvl.vqa.rsvl_format import read_rsvqa

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "Images_LR").symlink_to(images)
        for part, data in parts.items():
            (root / f"LR_split_test_{part}.json").write_bytes(data)
        result = _outcome(lambda: read_rsvqa(root))
    if result is not None:
        for question in result.questions:
            assert isinstance(question.question, str) and isinstance(question.answer, str)


def _rsvqa_inputs(seed: dict[str, Any], structure: bool) -> st.SearchStrategy[dict[str, bytes]]:
    def mutate(part: str) -> st.SearchStrategy[dict[str, bytes]]:
        changed = (json_mutations(seed[part]).map(json_bytes) if structure
                   else byte_mutations(json_bytes(seed[part])))
        return changed.map(lambda data: {**{p: json_bytes(d) for p, d in seed.items()},
                                         part: data})

    return st.sampled_from(sorted(seed)).flatmap(mutate)


def test_rsvqa_bytes(rsvqa_seed: tuple[dict[str, Any], Path]) -> None:
    seed, images = rsvqa_seed
    _fuzz("rsvqa_bytes", _rsvqa_inputs(seed, False), lambda parts: _read_rsvqa(parts, images))


def test_rsvqa_structure(rsvqa_seed: tuple[dict[str, Any], Path]) -> None:
    seed, images = rsvqa_seed
    _fuzz("rsvqa_structure", _rsvqa_inputs(seed, True), lambda parts: _read_rsvqa(parts, images))


# The tag cleaner and phrase functions: total functions on any tags


def _known_tags() -> tuple[list[str], list[str]]:
    from rsvl.osm.tags import attribute_tables, feature_tables

    keys, values = [], []
    for tables in (feature_tables(), attribute_tables()):
        for key, table in tables.items():
            keys.append(key)
            values.extend(str(v) for v in (table.get("values") or {}))
    return sorted(set(keys)), sorted(set(values)) or ["yes"]


def test_tag_cleaner() -> None:
    from rsvl.osm import tags as tag_rules

    keys, values = _known_tags()
    features, attributes = tag_rules.feature_tables(), tag_rules.attribute_tables()
    prefixes = st.sampled_from(["", "disused:", "name:", "addr:", "roof:", "building:", "not:"])
    key = st.one_of(st.sampled_from(keys), st.text(max_size=12),
                    st.tuples(prefixes, st.sampled_from(keys)).map("".join))
    value: st.SearchStrategy[Any] = st.one_of(
        st.sampled_from(values), st.sampled_from(["yes", "no", "", " ", ";", "a;b", "3", "-1",
                                                  "1e9", "FIXME", "Über", "\u200b", "\x00"]),
        st.text(max_size=16), st.none(), st.floats(), st.integers())
    strategy = st.dictionaries(key, value, max_size=8)

    def check(tags: dict[str, Any]) -> None:
        cleaned = _outcome(lambda: tag_rules.clean_tags(tags))
        if cleaned is None:
            return
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in cleaned.items())
        text = _outcome(lambda: tag_rules.describe(tags))
        assert text is None or (isinstance(text, str) and text.strip())
        _outcome(lambda: tag_rules.describe_parts(tags))
        assert all(isinstance(p, str) for p in _outcome(lambda: tag_rules.phrases(tags)) or [])
        assert _outcome(lambda: tag_rules.focus_key(cleaned)) in (None, *cleaned)
        for k, v in cleaned.items():
            for tables, phrase_of in ((features, tag_rules.feature_phrase),
                                      (attributes, tag_rules.attribute_phrase)):
                if k in tables:  # the phrase functions take the keys of their own tables
                    phrase, _ = phrase_of(k, v)
                    assert phrase is None or isinstance(phrase, str)
        for v in tags.values():
            if isinstance(v, str):
                assert isinstance(tag_rules.readable(v), str)

    _fuzz("tag_cleaner", strategy, check)
