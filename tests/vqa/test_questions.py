"""Question generation on hand-made scenes: answers worked out by hand, shapes, bins, balance."""

from __future__ import annotations

from collections import Counter

import pytest
from shapely.geometry import LineString, Point, box

from rsvl.errors import ConfigError
from rsvl.vqa.questions import (
    ChipScene,
    Question,
    QuestionOptions,
    balance_answers,
    bin_answer,
    chip_questions,
    deduplicate,
    get_category,
    list_categories,
    objects_in_chip,
    shape_of,
    size_of,
)

CHIP = (0.0, 0.0, 100.0, 100.0)
HOUSE = {"building": "house"}
ROAD = {"highway": "residential"}


def _scene() -> ChipScene:
    features = [
        (HOUSE, box(10, 10, 18, 18)),                 # small square house, left, next to road
        (HOUSE, box(60, 60, 90, 80)),                 # large rectangular house
        ({"building": "industrial"}, box(95, 10, 130, 40)),   # crosses the chip edge: in
        (HOUSE, box(100, 50, 110, 60)),               # touches the edge only: out
        (HOUSE, box(200, 200, 210, 210)),             # far outside
        (ROAD, LineString([(0, 25), (100, 25)])),
        ({"natural": "water"}, Point(50, 50).buffer(10, 32)),  # circular pond
        ({"name": "Nowhere"}, box(0, 0, 5, 5)),       # no category
    ]
    return ChipScene.from_features(features, CHIP)


def test_bins_follow_the_lr_protocol() -> None:
    assert [bin_answer(v, "count") for v in (0, 1, 10, 11, 100, 101, 1000, 1001)] == [
        "0", "between 1 and 10", "between 1 and 10", "between 11 and 100",
        "between 11 and 100", "between 101 and 1000", "between 101 and 1000", "more than 1000"]
    assert bin_answer(0.4, "area") == "between 1 m2 and 10 m2"
    assert bin_answer(0, "area") == "0 m2"
    assert bin_answer(5000, "area") == "more than 1000 m2"


def test_shapes_and_sizes() -> None:
    assert shape_of(box(0, 0, 10, 10)) == "square"
    assert shape_of(box(0, 0, 30, 10)) == "rectangular"
    assert shape_of(Point(0, 0).buffer(5, 32)) == "circular"
    assert shape_of(LineString([(0, 0), (1, 1)])) is None
    l_shape = box(0, 0, 10, 2).union(box(0, 0, 2, 10))
    assert shape_of(l_shape) is None
    assert [size_of(a) for a in (50, 100, 499, 500, 10_000)] == [
        "small", "medium", "medium", "large", "large"]


def test_categories_match_tags() -> None:
    assert "house" in list_categories()
    assert get_category("building").matches({"building": "yes"})
    assert get_category("house").matches(HOUSE)
    assert not get_category("house").matches({"building": "industrial"})
    assert get_category("road").matches(ROAD)
    assert not get_category("road").matches({"highway": "footway"})
    with pytest.raises(ConfigError, match="unknown VQA category 'castle'"):
        get_category("castle")


def test_objects_in_chip_excludes_touching() -> None:
    geometries = [box(10, 10, 20, 20), box(100, 0, 110, 10), box(95, 0, 105, 10)]
    assert objects_in_chip(geometries, CHIP) == [0, 2]


def test_scene_counts_areas_and_relations() -> None:
    from rsvl.vqa.questions import _Subject

    scene = _scene()
    house, building, road = (get_category(n) for n in ("house", "building", "road"))
    water = get_category("water_area")
    assert scene.count(_Subject(house)) == 2
    assert scene.count(_Subject(building)) == 3
    assert scene.count(_Subject(road)) == 1
    assert scene.count(_Subject(house, "small")) == 1
    assert scene.count(_Subject(house, "large")) == 1
    assert scene.count(_Subject(house, "square")) == 1
    assert scene.count(_Subject(house, "rectangular")) == 1
    assert scene.count(_Subject(water, "circular")) == 1
    # Clipped to the chip: the industrial building contributes 5 x 30 m.
    assert scene.area_m2(_Subject(building)) == pytest.approx(64 + 600 + 150)
    assert scene.count(_Subject(house, None, "next_to", road)) == 1
    assert scene.count(_Subject(house, None, "left_of", water)) == 1
    assert scene.count(_Subject(house, None, "top_of", road)) == 1
    assert not scene.is_urban()  # 3 buildings per hectare = 300 per km2 < 400


def test_chip_questions_answers_match_the_scene() -> None:
    options = QuestionOptions(per_type=50, relations=False)
    questions = chip_questions(_scene(), options, "0:1")
    answers = {q.question: q.answer for q in questions}
    for text, answer in answers.items():
        if text in ("Is there a house?", "Is a house present?", "Is there a house in the image?"):
            assert answer == "yes"
        if text.startswith(("How many houses", "What is the number of houses")):
            assert answer == "2"
        if text.startswith(("How many roads", "What is the number of roads")):
            assert answer == "1"
        if text.startswith(("Is there a park", "Is a park present")):
            assert answer == "no"
    types = Counter(q.type for q in questions)
    assert types["rural_urban"] == 1 and types["presence"] > 10 and types["count"] > 10
    assert not any(" a industrial" in t or " a apartment" in t for t in answers)
    keys = [q.key for q in questions]
    assert len(keys) == len(set(keys))
    assert chip_questions(_scene(), options, "0:1") == questions  # seeded


def test_binned_counts() -> None:
    questions = chip_questions(_scene(), QuestionOptions(per_type=50, bin_counts=True), "s")
    assert {q.answer for q in questions if q.type == "count"} <= {"0", "between 1 and 10"}


def test_deduplicate_by_key_and_text() -> None:
    a = Question("presence", "Is there a house?", "yes", "presence:house")
    b = Question("presence", "Is a house present?", "yes", "presence:house")
    c = Question("count", "Is there a house?", "1", "other")
    assert deduplicate([a, b, c]) == [a]


def test_balance_answers() -> None:
    types = ["presence"] * 10 + ["count"] * 10 + ["rural_urban"] * 3
    answers = ["no"] * 8 + ["yes"] * 2 + ["0"] * 7 + ["1", "2", "3"] + ["rural"] * 3
    keep = balance_answers(types, answers, QuestionOptions(count_share=0.5), seed=0)
    kept = Counter((types[i], answers[i]) for i in keep)
    assert kept[("presence", "no")] == kept[("presence", "yes")] == 2
    assert kept[("count", "0")] == 3 and kept[("count", "1")] == 1
    assert kept[("rural_urban", "rural")] == 3  # one answer: nothing to balance against
    assert keep == balance_answers(types, answers, QuestionOptions(count_share=0.5), seed=0)


def test_bad_options() -> None:
    with pytest.raises(ConfigError):
        QuestionOptions(per_type=0)
    with pytest.raises(ConfigError, match="castle"):
        QuestionOptions(categories=("castle",))


def test_bin_count_answer() -> None:
    from rsvl.vqa.questions import bin_count_answer

    assert [bin_count_answer(a) for a in ("0", "7", "57", "yes")] == [
        "0", "between 1 and 10", "between 11 and 100", "yes"]
