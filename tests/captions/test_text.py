"""Counted noun phrases, worked out by hand."""

from __future__ import annotations

import pytest

from rsvl.captions.text import article, counted, join_list, plural


@pytest.mark.parametrize(
    ("phrase", "count", "expected"),
    [
        ("house", 1, "a house"),
        ("house", 3, "three houses"),
        ("unpaved track", 1, "an unpaved track"),
        ("bench", 2, "two benches"),
        ("cemetery", 2, "two cemeteries"),
        ("parking lot", 13, "13 parking lots"),
        ("house with gabled roof", 2, "two houses with gabled roof"),
        ("farmland", 4, "farmland"),
        ("ruins", 1, "ruins"),
        ("cliff", 2, "two cliffs"),
    ],
)
def test_counted(phrase: str, count: int, expected: str) -> None:
    assert counted(phrase, count) == expected


def test_article_and_plural() -> None:
    assert article("university campus") == "a"
    assert article("ATM") == "an"
    assert plural("railway switch") == "railway switches"
    assert plural("bay") == "bays"


def test_join_list() -> None:
    assert join_list([]) == ""
    assert join_list(["a"]) == "a"
    assert join_list(["a", "b"]) == "a and b"
    assert join_list(["a", "b", "c"]) == "a, b and c"
