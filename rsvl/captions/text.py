"""English noun phrases for captions: articles, plurals and number words from ``inflect``.

A feature's phrase (:class:`rsvl.osm.tags.Description`) becomes a :class:`NounPhrase` whose
*kind* (``words.json``) says how English counts it: objects are counted ("three houses"),
lines and areas are not (OSM maps roads as segments and land use as fragments: "footpaths", "a
residential area"), mass nouns and plural nouns take no article ("farmland", "ruins").
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Literal, cast

from rsvl.osm.datafiles import load_data
from rsvl.osm.tags import Description

Kind = Literal["object", "line", "area", "mass", "plural"]
KINDS: tuple[Kind, ...] = ("object", "line", "area", "mass", "plural")
_LEADING_NUMBER = re.compile(r"(\d+)(.*)")


@cache
def _words() -> dict[str, Any]:
    return load_data("rsvl.captions", "words.json")


@cache
def _engine() -> Any:
    """inflect's engine, imported without typeguard's instrumentation.

    inflect decorates its engine with typeguard's ``@typechecked``, which re-parses inflect's
    source once per decorated method at import (jaraco/inflect#212): about 1 s on a quiet
    machine, 15 s on a busy 2-core one, in every build worker. The checks only guard against
    misuse, so inflect is imported with an identity decorator in typeguard's place.
    """
    if "inflect" in sys.modules:  # imported already (by the user, or another library)
        return sys.modules["inflect"].engine()
    stub = types.ModuleType("typeguard")
    stub.typechecked = lambda target=None, **_: target or (lambda f: f)  # type: ignore[attr-defined]
    real = sys.modules.get("typeguard")
    sys.modules["typeguard"] = stub
    try:
        import inflect
    finally:
        if real is None:
            del sys.modules["typeguard"]
        else:
            sys.modules["typeguard"] = real
    return inflect.engine()


@cache
def _phrase_kinds() -> dict[str, Kind]:
    return {noun: cast(Kind, kind) for kind, nouns in _words()["phrase_kinds"].items()
            for noun in nouns}


def kind_of(description: Description) -> Kind:
    """How the feature's noun is counted: its own entry in ``words.json``, else its key's."""
    kind = _phrase_kinds().get(description.noun)
    return kind if kind is not None else cast(Kind, _words()["key_kinds"][description.key])


def number(count: int) -> str:
    """A count in words: ``3`` -> ``three``, ``21`` -> ``twenty-one``."""
    return str(_engine().number_to_words(count))


@lru_cache(maxsize=1 << 14)
def article(phrase: str) -> str:
    """``a`` or ``an`` for a phrase, as it is said (``an hour``, ``a university``, ``an ATM``).

    A leading number is read as words (``an 18-storey building``).
    """
    first = phrase.split(" ", 1)[0]
    overrides = _words()["article_overrides"]
    if first in overrides:
        return str(overrides[first])
    leading = _LEADING_NUMBER.fullmatch(phrase)
    if leading:
        phrase = number(int(leading[1])) + leading[2]
    return str(_engine().a(phrase)).split(" ", 1)[0]


@lru_cache(maxsize=1 << 14)
def plural(phrase: str) -> str:
    """The plural of a noun phrase's head: ``storage tank`` -> ``storage tanks``,
    ``place of worship`` -> ``places of worship``."""
    stem, _, last = phrase.rpartition(" ")
    overrides = _words()["plural_overrides"]
    if last in overrides:
        return f"{stem} {overrides[last]}".lstrip()
    return str(_engine().plural_noun(phrase))


def with_article(phrase: str) -> str:
    """``a house``, ``an unpaved track``."""
    return f"{article(phrase)} {phrase}"


@dataclass(frozen=True)
class NounPhrase:
    """A feature's phrase with what English needs to count it.

    Attributes:
        head: The counted part: the noun with its modifiers (``three-storey house``).
        kind: How it is counted (see the module docstring).
        noun: The bare noun (``house``): features with the focus's noun are "other" ones.
        with_: Countable attribute nouns after ``with`` (``gabled roof``).
    """

    head: str
    kind: Kind
    noun: str
    with_: tuple[str, ...] = ()

    @classmethod
    def of(cls, description: Description, attributes: bool = True) -> NounPhrase:
        """The noun phrase of a feature, with its attributes or with its noun only."""
        return _noun_phrase(description, attributes)

    @classmethod
    def _make(cls, description: Description, attributes: bool) -> NounPhrase:
        kind = kind_of(description)
        if not attributes:
            return cls(description.noun, kind, description.noun)
        head = " ".join([*description.before, description.noun, *description.after])
        return cls(head, kind, description.noun, description.with_)

    def _with(self, many: bool) -> str:
        if not self.with_:
            return ""
        nouns = [plural(noun) if many else with_article(noun) for noun in self.with_]
        return " with " + join_list(nouns)

    def form(self, count: int = 1, other: bool = False) -> str | None:
        """The phrase for ``count`` such features (``None``: not named, see ``words.json``).

        Args:
            count: How many features share the phrase.
            other: They share the focus feature's noun ("three other houses").
        """
        return _form(self, count, other)

    def _render(self, count: int, other: bool) -> str | None:
        forms = _words()["forms"][self.kind]
        name = ("other_" if other else "") + ("one" if count == 1 else "many")
        template = forms[name]
        if template is None:
            return None
        many = "{p}" in template
        return template.format(
            a=with_article(self.head) if "{a}" in template else "", s=self.head,
            p=plural(self.head) if many else "", n=number(count) if "{n}" in template else "",
        ) + self._with(many)


# A build names the same few phrases and counts in every chip: each form is made once.
@lru_cache(maxsize=1 << 14)
def _noun_phrase(description: Description, attributes: bool) -> NounPhrase:
    return NounPhrase._make(description, attributes)


@lru_cache(maxsize=1 << 14)
def _form(phrase: NounPhrase, count: int, other: bool) -> str | None:
    return phrase._render(count, other)


def join_list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
