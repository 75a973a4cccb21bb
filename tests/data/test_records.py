"""records.jsonl: round trips and one clear line for every malformed entry."""

from __future__ import annotations

import json

import pytest

from rsvl.data.records import Record, read_records, write_records
from rsvl.errors import InputError


def make_record(key: str = "chip-1", **changes) -> Record:
    fields = {"key": key, "image": f"images/{key}.jpg", "captions": ["a satellite image of pier"],
              "split": "train", "source": "osm", "licence": "CC0"}
    return Record(**{**fields, **changes})


def test_round_trip_keeps_every_field(tmp_path):
    records = [
        make_record("a", osm_ids=["way/1"], tags={"man_made": "pier"},
                    footprint=[1.0, 2.0, 3.0, 4.0], crs="EPSG:32633", gsd_m=0.5,
                    extra={"note": "é"}),
        make_record("b", split="test", captions=["one", "two"]),
    ]
    assert write_records(tmp_path / "records.jsonl", records) == 2
    assert list(read_records(tmp_path / "records.jsonl")) == records
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(("changes", "message"), [
    ({"key": "has.dot"}, r"record key 'has.dot' is invalid"),
    ({"split": "valid"}, r"record chip-1: unknown split 'valid'"),
    ({"captions": []}, r"record chip-1: empty caption"),
    ({"captions": ["ok", " "]}, r"record chip-1: empty caption"),
])
def test_invalid_records_are_rejected(changes, message):
    with pytest.raises(InputError, match=message):
        make_record(**changes)


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def good_line(key: str) -> str:
    return json.dumps(make_record(key).to_dict())


@pytest.mark.parametrize(("bad", "message"), [
    ('{"key": "b", ', r"records.jsonl:3: malformed JSON"),
    ("[1, 2]", r"records.jsonl:3: expected a JSON object per line"),
    (None, r"records.jsonl:3: duplicated key 'a'"),
    ('{"key": "b"}', r"records.jsonl:3: record b is incomplete"),
    (json.dumps({**make_record("b").to_dict(), "colour": 1}),
     r"records.jsonl:3: record has unknown fields \['colour'\]"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad, message):
    path = write_lines(tmp_path / "records.jsonl", [good_line("a"), "", bad or good_line("a")])
    with pytest.raises(InputError, match=message) as caught:
        list(read_records(path))
    assert "\n" not in str(caught.value)


def test_missing_records_file(tmp_path):
    with pytest.raises(InputError, match="records file not found"):
        list(read_records(tmp_path / "records.jsonl"))


def test_to_json_is_the_key_sorted_json_of_to_dict() -> None:
    record = Record(key="a-1", image="chips/a-1.jpg", captions=["a satellite image of café"],
                    split="train", source="osm", licence="CC0", tags={"z": "1", "a": "2"},
                    footprint=[1.0, 2.0, 3.0, 4.0], extra={"nested": {"b": [1, 2]}})
    assert record.to_json() == json.dumps(record.to_dict(), ensure_ascii=False, sort_keys=True)
    assert Record.from_dict(json.loads(record.to_json())) == record
