"""Tag cleaning and phrasing, SkyScript's recipe: keep visually groundable tags, phrase them.

Three reviewed data files drive it (``data/``): ``dropped_tags.json`` (what is not visible from
above: names, addresses, contacts, operators, sources, notes, ids, lifecycle prefixes,
metadata, hours, and tags that hide a feature such as ``tunnel=yes``), ``feature_phrases.json``
(the noun of a feature's main tag, keys in focus priority) and ``attribute_phrases.json``
(tags that qualify the noun: ``surface=unpaved`` -> ``unpaved``, ``roof:shape=gabled`` ->
``with gabled roof``). Unknown values of known keys fall back to readable words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from rsvl.osm.datafiles import load_data

NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()
# Fallbacks phrase only values that are words: "9.0" or "#ff0000" are not phrases.
_WORDS = re.compile(r"[A-Za-z][A-Za-z_ \-]*")
NO_PHRASE = "no phrase"
EMPTY = "empty value"
NEGATED = "value no"
# Most features share a few tag sets (``building=yes``...): cleaning and phrasing are memoised
# per distinct tag set, bounded so a country extract's long tail cannot fill memory.
_CACHE_SIZE = 1 << 16
TagItems = tuple[tuple[str, str | None], ...]


def _load(name: str) -> dict[str, Any]:
    return load_data("rsvl.osm", f"data/{name}")


@dataclass(frozen=True)
class _DropRule:
    reason: str
    keys: frozenset[str] = field(default_factory=frozenset)
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()

    def matches(self, key: str) -> bool:
        return key in self.keys or key.startswith(self.prefixes) or key.endswith(self.suffixes)


@cache
def _drop_rules() -> tuple[_DropRule, ...]:
    return tuple(
        _DropRule(
            reason,
            frozenset(rule.get("keys", ())),
            tuple(rule.get("prefixes", ())),
            tuple(rule.get("suffixes", ())),
        )
        for reason, rule in _load("dropped_tags.json")["drop"].items()
    )


@cache
def _hidden() -> dict[str, frozenset[str]]:
    return {key: frozenset(values) for key, values in _load("dropped_tags.json")["hidden"].items()}


@cache
def feature_tables() -> dict[str, dict[str, Any]]:
    """Feature phrase tables by key, in focus priority order (``feature_phrases.json``)."""
    return _load("feature_phrases.json")


@cache
def attribute_tables() -> dict[str, dict[str, Any]]:
    """Attribute phrase tables by key, in phrase order (``attribute_phrases.json``)."""
    return _load("attribute_phrases.json")


def feature_keys() -> list[str]:
    """The keys that name a feature, in focus priority order."""
    return list(feature_tables())


def readable(text: str) -> str:
    """Tag text as words: ``water_tower`` -> ``water tower``, ``roof:shape`` -> ``roof shape``."""
    return " ".join(text.replace("_", " ").replace(":", " ").split())


def _value_words(value: str) -> str:
    # A fallback value as caption words: "Store" -> "store" (mappers capitalise values), while
    # acronyms keep their case ("DIY").
    return " ".join(w if w.isupper() else w.lower() for w in readable(value).split())


def number_word(number: int) -> str:
    """``2`` -> ``two`` up to twelve, digits beyond."""
    return NUMBER_WORDS[number] if 0 <= number < len(NUMBER_WORDS) else str(number)


def drop_reason(key: str, value: str | None) -> str | None:
    """Why a tag is not kept by ``clean_tags`` (None when it is kept)."""
    if value is None or not str(value).strip():
        return EMPTY
    reason = _key_drop_reason(key)
    if reason is not None:
        return reason
    if value == "no":
        return NEGATED
    return None


@lru_cache(maxsize=_CACHE_SIZE)
def _key_drop_reason(key: str) -> str | None:
    # The part of drop_reason that depends on the key alone: rule matching is the costly part.
    for rule in _drop_rules():
        if rule.matches(key):
            return rule.reason
    if key not in feature_tables() and key not in attribute_tables():
        return NO_PHRASE
    return None


def _cache_key(tags: Mapping[str, Any]) -> TagItems | None:
    """The tags as a hashable, order-keeping key, or None when they cannot be memoised.

    Only string (or None) values qualify: ``1``, ``1.0`` and ``True`` are equal as keys but
    clean to different strings.
    """
    items = tuple(tags.items())
    if all(type(key) is str and (type(value) is str or value is None) for key, value in items):
        return items
    return None


def clean_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Keep the visually groundable tags (those with a phrase table), values stripped.

    Args:
        tags: Raw OSM tags.

    Returns:
        The kept tags, in their original order (a new dict the caller may change); empty when
        a tag hides the whole feature from above (``tunnel=yes``, ``location=underground``...).
    """
    items = _cache_key(tags)
    return dict(_clean_items(items) if items is not None else _clean(tags))


@lru_cache(maxsize=_CACHE_SIZE)
def _clean_items(items: TagItems) -> tuple[tuple[str, str], ...]:
    return _clean(dict(items))


def _clean(tags: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    hidden = _hidden()
    if any(str(tags.get(key)) in values for key, values in hidden.items() if key in tags):
        return ()
    return tuple(
        (key, str(value).strip()) for key, value in tags.items()
        if drop_reason(key, value) is None
    )


def _first_value(value: str) -> str:
    # OSM separates multiple values with ";": the first is the main one.
    return value.split(";")[0].strip()


def feature_phrase(key: str, value: str) -> tuple[str | None, bool]:
    """The noun for ``key=value`` and whether it came from the fallback (unreviewed) rule."""
    table = feature_tables()[key]
    value = _first_value(value)
    if value in table["values"]:
        return table["values"][value], False
    if value == "yes":
        return readable(key), False
    if table["fallback"] is None or not _WORDS.fullmatch(value):
        return None, False
    return table["fallback"].format(key=readable(key), value=_value_words(value)), True


def attribute_phrase(key: str, value: str) -> tuple[str | None, bool]:
    """The qualifying phrase for ``key=value`` and whether it came from the fallback rule."""
    table = attribute_tables()[key]
    value = _first_value(value)
    if "number" in table:
        if not value.isdigit() or not 0 < int(value) <= table["max"]:
            return None, False
        number = int(value)
        return table["number"].format(n=number, n_words=number_word(number)), False
    if value in table["values"]:
        return table["values"][value], False
    if table["fallback"] is None or not _WORDS.fullmatch(value):
        return None, False
    return table["fallback"].format(value=_value_words(value)), True


def focus_key(tags: Mapping[str, str]) -> str | None:
    """The highest-priority feature key of cleaned tags that has a phrase."""
    return next(
        (key for key in feature_tables() if key in tags and feature_phrase(key, tags[key])[0]),
        None,
    )


@dataclass(frozen=True)
class Description:
    """A feature's phrase in parts, so that captions can add articles, plurals and counts.

    Attributes:
        key: The focus key whose table named the noun (``building``).
        noun: The feature's noun (``apartment building``; a ``replace`` attribute's phrase).
        before: Attribute phrases before the noun (``three-storey``, ``unpaved``).
        after: Attribute phrases after the noun (``bridge``).
        with_: Attribute phrases joined by ``with`` (``gabled roof``).
        text: The whole phrase without articles: ``three-storey house with gabled roof``.
    """

    key: str
    noun: str
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    with_: tuple[str, ...] = ()
    text: str = ""


def describe(tags: Mapping[str, Any]) -> str | None:
    """The focus phrase of a feature with its attributes, or None if nothing is groundable.

    Examples: ``{"highway": "track", "surface": "unpaved"}`` -> ``unpaved track``;
    ``{"building": "house", "building:levels": "3", "roof:shape": "gabled"}`` ->
    ``three-storey house with gabled roof``.
    """
    parts = describe_parts(tags)
    return None if parts is None else parts.text


def describe_parts(tags: Mapping[str, Any]) -> Description | None:
    """:func:`describe`'s phrase in its parts (noun, attributes), or None."""
    items = _cache_key(tags)
    return _describe_items(items) if items is not None else _describe(tags)


@lru_cache(maxsize=_CACHE_SIZE)
def _describe_items(items: TagItems) -> Description | None:
    return _describe(dict(items))


def _describe(tags: Mapping[str, Any]) -> Description | None:
    cleaned = clean_tags(tags)
    key = focus_key(cleaned)
    if key is None:
        return None
    noun = str(feature_phrase(key, cleaned[key])[0])
    before: list[str] = []
    after: list[str] = []
    with_: list[str] = []
    for attribute, table in attribute_tables().items():
        if attribute not in cleaned or key not in table["applies_to"]:
            continue
        phrase = attribute_phrase(attribute, cleaned[attribute])[0]
        if phrase is None:
            continue
        position = table["position"]
        if position == "replace":
            noun = phrase
        else:
            {"before": before, "after": after, "with": with_}[position].append(phrase)
    text = " ".join([*before, noun, *after])
    text = f"{text} with {' and '.join(with_)}" if with_ else text
    return Description(key, noun, tuple(before), tuple(after), tuple(with_), text)


def phrases(tags: Mapping[str, Any]) -> list[str]:
    """Every groundable phrase of a feature: its feature nouns (focus first), then attributes.

    SkyScript joins these with ``", "`` for its captions.
    """
    cleaned = clean_tags(tags)
    found = [feature_phrase(key, cleaned[key])[0] for key in feature_tables() if key in cleaned]
    found += [
        attribute_phrase(key, cleaned[key])[0] for key in attribute_tables() if key in cleaned
    ]
    return list(dict.fromkeys(phrase for phrase in found if phrase))


@dataclass
class TagVocabulary:
    """Counts of phrases per phrase table and of dropped tags per reason, across features.

    Attributes:
        features: ``(key, phrase)`` -> count for feature phrases.
        attributes: ``(key, phrase)`` -> count for attribute phrases.
        fallbacks: ``(key, phrase)`` -> count for phrases made by a fallback rule (values the
            data files do not list yet: candidates for review).
        dropped: reason -> count of dropped tags.
        hidden: features hidden from above (tunnels, underground).
        features_seen: features counted.
    """

    features: Counter[tuple[str, str]] = field(default_factory=Counter)
    attributes: Counter[tuple[str, str]] = field(default_factory=Counter)
    fallbacks: Counter[tuple[str, str]] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    hidden: int = 0
    features_seen: int = 0

    def add(self, tags: Mapping[str, Any]) -> None:
        """Count one feature's tags."""
        self.features_seen += 1
        for key, value in tags.items():
            reason = drop_reason(key, value)
            if reason is not None:
                self.dropped[reason] += 1
        cleaned = clean_tags(tags)
        if tags and not cleaned and any(key in tags for key in _hidden()):
            self.hidden += 1
        for key, value in cleaned.items():
            is_feature = key in feature_tables()
            phrase, fallback = (feature_phrase if is_feature else attribute_phrase)(key, value)
            if phrase is None:
                continue
            (self.features if is_feature else self.attributes)[(key, phrase)] += 1
            if fallback:
                self.fallbacks[(key, phrase)] += 1

    def update(self, all_tags: Iterable[Mapping[str, Any]]) -> None:
        """Count many features' tags."""
        for tags in all_tags:
            self.add(tags)

    def report(self, top: int = 8) -> str:
        """A plain-text report: phrase counts per table, fallbacks, dropped tags by reason."""
        lines = [f"tag vocabulary: {self.features_seen} features, {self.hidden} hidden from above"]
        for title, counter in (("feature", self.features), ("attribute", self.attributes)):
            for key, total, common in _by_key(counter, top):
                lines.append(f"  {title} {key} ({total}): {common}")
        if self.fallbacks:
            lines.append(
                "  fallback phrases (not in the data files yet): "
                + ", ".join(
                    f"{key}={phrase} {count}"
                    for (key, phrase), count in self.fallbacks.most_common(top)
                )
            )
        if self.dropped:
            lines.append(
                "  dropped tags: "
                + ", ".join(f"{reason} {count}" for reason, count in self.dropped.most_common())
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The counts as JSON-ready data (for a build manifest)."""
        return {
            "features_seen": self.features_seen,
            "hidden": self.hidden,
            "features": {f"{key}={phrase}": n for (key, phrase), n in self.features.items()},
            "attributes": {f"{key}={phrase}": n for (key, phrase), n in self.attributes.items()},
            "fallbacks": {f"{key}={phrase}": n for (key, phrase), n in self.fallbacks.items()},
            "dropped": dict(self.dropped),
        }


def _by_key(counter: Counter[tuple[str, str]], top: int) -> list[tuple[str, int, str]]:
    per_key: dict[str, Counter[str]] = {}
    for (key, phrase), count in counter.items():
        per_key.setdefault(key, Counter())[phrase] = count
    rows = [
        (key, sum(phrases.values()), ", ".join(f"{p} {n}" for p, n in phrases.most_common(top)))
        for key, phrases in per_key.items()
    ]
    return sorted(rows, key=lambda row: -row[1])
