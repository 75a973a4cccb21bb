"""The inputs the fuzzers found that ended in another exception type, each now one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.errors import InputError

NODE = '<node id="1" version="1" lat="{lat}" lon="0.001" timestamp="{time}"><tag k="amenity" ' \
       'v="bench"/></node>'


@pytest.mark.parametrize(("lat", "time", "reason"), [
    ("p.0010000", "2015-10-12T02:24:02Z", "wrong format for coordinate"),  # InvalidLocationError
    ("0.001", "2015-10/12T02:24:02Z", "timestamp"),  # ValueError
])
def test_malformed_osm_xml(tmp_path: Path, lat: str, time: str, reason: str) -> None:
    from rsvl.osm import read_features

    path = tmp_path / "x.osm"
    path.write_text(f'<?xml version="1.0"?>\n<osm version="0.6">{NODE.format(lat=lat, time=time)}'
                    "</osm>\n")
    with pytest.raises(InputError, match=reason):
        read_features(path)


def _feature(coordinates: list[list[float]]) -> dict[str, object]:
    return {"type": "Feature", "properties": {"@id": 1, "@type": "way", "building": "yes"},
            "geometry": {"type": "Polygon", "coordinates": [coordinates]}}


def test_geojson_not_utf8_or_open_ring(tmp_path: Path) -> None:
    from rsvl.osm import read_features

    square = [[0, 0], [0, 0.001], [0.001, 0.001], [0.001, 0], [0, 0]]
    collection = {"type": "FeatureCollection", "features": [_feature(square)]}
    path = tmp_path / "x.geojson"
    path.write_bytes(json.dumps(collection).replace("yes", "y\\u00e9s").encode()
                     .replace(b"\\u00e9", b"\xe9"))  # a Latin-1 byte
    with pytest.raises(InputError, match="not a readable vector file"):
        read_features(path)
    collection["features"] = [_feature(square[:-1])]  # the ring is not closed
    path.write_text(json.dumps(collection))
    try:
        features = read_features(path)  # GDAL may close the ring itself
    except InputError as error:
        assert "not a readable vector file" in str(error)
    else:
        assert len(features) == 1


def test_karpathy_and_csv_not_utf8(tmp_path: Path) -> None:
    from rsvl.builders.importers import karpathy, table
    from rsvl.builders.importers.base import validate_items

    captions = tmp_path / "captions.json"
    captions.write_bytes(b'{"images": [{"filename": "a.jpg", "sentences": [{"raw": "caf\xe9"}]}]}')
    with pytest.raises(InputError, match="not UTF-8"):
        list(karpathy.read_items(captions))
    rows = tmp_path / "captions.csv"
    rows.write_bytes(b"filepath,title\na.jpg,a caf\xe9\n")
    with pytest.raises(InputError, match="not UTF-8 text after line"):
        list(table.read_items(rows))
    rows.write_text("filepath,title\n,a caption\n")  # no image named: was a ValueError
    with pytest.raises(InputError, match="image not found"):
        validate_items(table.read_items(rows))


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("id", [0], "is malformed"),  # unhashable: TypeError
    ("question", None, "not text"),  # a question that is not text was kept
])
def test_rsvqa_entries_of_another_type(tmp_path: Path, field: str, value: object,
                                       reason: str) -> None:
    from PIL import Image

    from rsvl.vqa.rsvl_format import read_rsvqa

    (tmp_path / "Images_LR").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "Images_LR" / "0.png")
    question = {"id": 0, "img_id": 0, "type": "presence", "question": "Is there a road?",
                "answers_ids": [0], "active": True, field: value}
    parts = {"questions": [question], "answers": [{"id": 0, "question_id": 0, "answer": "yes"}],
             "images": [{"id": 0, "active": True}]}
    for part, entries in parts.items():
        (tmp_path / f"LR_split_test_{part}.json").write_text(json.dumps({part: entries}))
    with pytest.raises(InputError, match=reason):
        read_rsvqa(tmp_path)
