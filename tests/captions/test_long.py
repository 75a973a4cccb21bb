"""Long descriptions from region-text pairs: places, counts, relations, the seed."""

from __future__ import annotations

from typing import Any

from rsvl.captions.long import long_description, where

SHAPE = (90, 90)


def _region(osm_id: str, tags: dict[str, str], box: list[int], truncated: bool = False
            ) -> dict[str, Any]:
    area = (box[2] - box[0]) * (box[3] - box[1])
    return {"osm_id": osm_id, "tags": tags, "box": box, "area_px": area, "truncated": truncated}


def test_places_in_the_chip() -> None:
    assert where([0, 0, 20, 20], SHAPE) == "in the top left"
    assert where([35, 35, 55, 55], SHAPE) == "in the centre"
    assert where([70, 40, 90, 50], SHAPE) == "on the right"
    assert where([0, 80, 90, 90], SHAPE) == "along the bottom edge"
    assert where([0, 0, 90, 80], SHAPE) == "across most of the image"


def test_counts_places_and_relations_in_english() -> None:
    house = {"building": "house"}
    regions = [
        _region("way/9", {"landuse": "residential"}, [0, 0, 90, 90]),
        _region("way/1", house, [35, 35, 55, 55]),
        _region("way/2", house, [56, 36, 70, 50]),
        _region("way/3", house, [2, 2, 15, 15]),
        _region("way/4", {"highway": "residential"}, [0, 84, 90, 90], truncated=True),
    ]
    text = long_description(regions, SHAPE, "way/1", seed=3)
    assert text is not None
    assert "a house in the centre." in text
    assert "Two other houses are on the right and in the top left." in text
    assert "runs along the bottom edge." in text
    assert "The house is surrounded by a residential area." in text
    assert "The house is next to another house." in text
    assert long_description(regions, SHAPE, "way/1", seed=3) == text  # the seed fixes it
    openers = {long_description(regions, SHAPE, "way/1", seed=s).split(" a house")[0]
               for s in range(12)}
    assert len(openers) > 1  # and picks among wordings
    assert long_description(regions, SHAPE, "way/77") is None


def test_only_an_area_surrounds_the_focus() -> None:
    regions = [_region("way/5", {"waterway": "river"}, [0, 0, 90, 90]),
               _region("way/1", {"building": "house"}, [35, 35, 55, 55])]
    text = long_description(regions, SHAPE, "way/1")
    assert text is not None and "surrounded" not in text
