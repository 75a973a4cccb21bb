"""Counted English noun phrases for captions: "a parking lot", "three houses", "farmland"."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

from rsvl.osm.datafiles import load_data
from rsvl.osm.tags import number_word

_WITH = " with "


@cache
def _words() -> dict[str, Any]:
    return load_data("rsvl.captions", "words.json")


def _split_head(phrase: str) -> tuple[str, str]:
    # "house with gabled roof": the head is "house", the counted noun.
    head, sep, tail = phrase.partition(_WITH)
    return head, sep + tail


def is_uncountable(phrase: str) -> bool:
    """True for mass nouns that take no count ("farmland", "sandy beach" is countable)."""
    head = _split_head(phrase)[0]
    return any(head == word or head.endswith(" " + word) for word in _words()["uncountable"])


def plural(phrase: str) -> str:
    """The plural of a noun phrase's head: ``house with gabled roof`` -> ``houses with ...``."""
    head, tail = _split_head(phrase)
    stem, _, last = head.rpartition(" ")
    irregular = _words()["plural"]
    if last in irregular:
        last = irregular[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{stem} {last}".strip() + tail


def article(phrase: str) -> str:
    """``a`` or ``an`` for a phrase (by its first letters)."""
    lower = phrase.lower()
    vowel = lower[:1] in tuple("aeiou") and not lower.startswith(tuple(_words()["a_before"]))
    return "an" if vowel else "a"


# Every chip's context names a few phrases out of a small vocabulary: remember their forms.
@lru_cache(maxsize=1 << 14)
def counted(phrase: str, count: int) -> str:
    """``a parking lot``, ``three houses``, or ``farmland`` (mass nouns take no count)."""
    if is_uncountable(phrase):
        return phrase
    if count == 1:
        return f"{article(phrase)} {phrase}"
    return f"{number_word(count)} {plural(phrase)}"


def join_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
