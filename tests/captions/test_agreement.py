"""Every phrase of the vocabulary in every template: articles, plurals and counts agree.

The vocabulary is every feature phrase of ``rsvl/osm/data/feature_phrases.json`` (listed
values, ``yes`` and a fallback value per key), every attribute phrase on a feature it applies
to, and building levels 1..12. Each is rendered as the focus in every focus template (alone and
held by an area), and as the context in every context template at counts 1..12 (as other
features and as features of the focus's own noun). The rules checked on the rendered text:

- ``a``/``an`` before every word is the one inflect says (template words included);
- no count before a line, area, mass or plural phrase, and no article before a mass or plural
  phrase ("a farmland" never); countable objects at count k read "<k in words> <plural>";
- a plural changes one word of its phrase, never adds "s" to the end of a multi-word phrase
  ("places of worship", not "place of worships");
- no doubled spaces, articles or words; lower-case start (acronyms such as ATM aside), no
  final punctuation, no space before a comma.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest

from rsvl.captions import get_template_set, list_template_sets
from rsvl.captions.text import NounPhrase, article, plural
from rsvl.osm.tags import attribute_tables, describe_parts, feature_tables

NUMBERS = "one two three four five six seven eight nine ten eleven twelve".split()
COUNTS = range(1, 13)
_ARTICLE = re.compile(r"\b(a|an) (\S+)")
_DOUBLED = re.compile(r"\b(\w+) \1\b")
_COUNTED = re.compile(r"\b(" + "|".join(NUMBERS[1:]) + r") ")


def _vocabulary() -> Iterator[dict[str, str]]:
    """Tag sets whose phrases cover the vocabulary."""
    for key, table in feature_tables().items():
        if key.startswith("_"):
            continue
        for value, phrase in table["values"].items():
            if phrase is not None:
                yield {key: value}
        yield {key: "yes"}
        yield {key: "foo_bar"}  # the fallback rule
    for attribute, table in attribute_tables().items():
        if attribute.startswith("_"):
            continue
        key = table["applies_to"][0]
        base = next(v for v, p in feature_tables()[key]["values"].items() if p)
        values = (
            [str(n) for n in COUNTS] if "number" in table else list(table["values"]))
        for value in values:
            yield {key: base, attribute: value}


def _phrases(attributes: bool) -> list[NounPhrase]:
    found: dict[tuple[str, tuple[str, ...]], NounPhrase] = {}
    for tags in _vocabulary():
        parts = describe_parts(tags)
        if parts is not None:
            phrase = NounPhrase.of(parts, attributes)
            found.setdefault((phrase.head, phrase.with_), phrase)
    return list(found.values())


# The focus is named with its attributes, the features around it by their nouns.
PHRASES = _phrases(attributes=True)
NOUNS = _phrases(attributes=False)
ACRONYMS = {word for p in PHRASES for word in f"{p.head} {plural(p.head)}".split()
            if word != word.lower()}


def _check(caption: str) -> None:
    assert caption == caption.strip() and "  " not in caption, caption
    assert " ," not in caption and ",," not in caption, caption
    assert caption[-1] not in ".,;:!?", caption
    first = caption.split(" ", 1)[0]
    assert first == first.lower() or first in ACRONYMS, caption
    assert all(w == w.lower() or w.strip(",") in ACRONYMS for w in caption.split()), caption
    assert not _DOUBLED.search(caption), caption
    for match in _ARTICLE.finditer(caption):
        assert match[1] == article(match[2]), caption  # inflect reads the next word


def _check_context(caption: str, phrase: NounPhrase, count: int, other: bool) -> None:
    singular, many = phrase.head, plural(phrase.head)
    if phrase.kind == "object":
        expected = (f"{NUMBERS[count - 1]} {'other ' if other else ''}{many}" if count > 1
                    else f"{'another' if other else article(singular)} {singular}")
        assert expected in caption, (caption, expected)
    else:
        for form in (singular, many):
            assert not re.search(rf"\b({'|'.join(NUMBERS)}) (other )?{re.escape(form)}\b",
                                 caption), caption
    if phrase.kind in ("mass", "plural"):
        assert not re.search(rf"\b(a|an|another) {re.escape(singular)}\b", caption), caption
        assert many not in caption or many == singular or singular.endswith(many), caption


def test_plurals_change_the_head_noun_only() -> None:
    for phrase in PHRASES + NOUNS:
        words, plural_words = phrase.head.split(), plural(phrase.head).split()
        assert len(words) == len(plural_words), phrase.head
        changed = [i for i, (a, b) in enumerate(zip(words, plural_words, strict=True)) if a != b]
        assert len(changed) <= 1, (phrase.head, plural(phrase.head))
        if len(words) > 1 and " of " not in phrase.head and " for " not in phrase.head \
                and " under " not in phrase.head:
            assert changed in ([], [len(words) - 1]), (phrase.head, plural(phrase.head))


@pytest.mark.parametrize("template_set", list_template_sets())
def test_every_phrase_in_every_template(template_set: str) -> None:
    templates = get_template_set(template_set)
    renders: Counter[str] = Counter()
    focus_templates = [templates.plain.replace("{focus}", "{scene}"), *templates.focus_only]
    holders = [p for p in NOUNS if p.kind in ("area", "mass", "plural")]
    house = NounPhrase("house", "object", "house")
    for index, phrase in enumerate(PHRASES):
        focus = phrase.form(1)
        assert focus is not None
        held = templates.in_area.format(
            focus=focus, area=holders[index % len(holders)].form(1))
        for template in focus_templates:
            for scene in (focus, held):
                _check(template.format(scene=scene))
                renders["focus"] += 1
    for phrase in NOUNS:
        focus = str(phrase.form(1))
        for count in COUNTS:
            for other in (False, True):
                context = phrase.form(count, other=other)
                if context is None:  # an area of the focus's own kind is not named again
                    assert other and phrase.kind in ("area", "mass", "plural")
                    continue
                scene = focus if other else str(house.form(1))
                for template in templates.with_context:
                    caption = template.format(scene=scene, context=context)
                    _check(caption)
                    _check_context(caption, phrase, count, other)
                    renders["context"] += 1
    assert len(PHRASES) > 800 and len(NOUNS) > 650
    assert renders["focus"] == len(PHRASES) * len(focus_templates) * 2
    print(f"{template_set}: {len(PHRASES)} focus phrases, {len(NOUNS)} context nouns, "
          f"{sum(renders.values())} renders {dict(renders)}")


def test_a_noun_has_one_kind_under_every_key() -> None:
    # Features are grouped by noun ("a harbour" for water=harbour and landuse=harbour).
    kinds: dict[str, set[str]] = {}
    for tags in _vocabulary():
        parts = describe_parts(tags)
        if parts is not None and "foo_bar" not in tags.values():  # fallbacks: the key's kind
            kinds.setdefault(parts.noun, set()).add(NounPhrase.of(parts).kind)
    assert {noun: k for noun, k in kinds.items() if len(k) > 1} == {}
