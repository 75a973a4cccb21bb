"""Seeded captions from templates kept as data (``caption_templates.json``), SkyScript style.

The first caption is always SkyScript's ``a satellite image of {focus}``; the next one, when
there are surrounding features, names them; the rest are drawn from aerial and remote-sensing
variants. The focus is named with its attributes (roof shape, levels, surface...), the features
around it by their nouns; only countable objects are counted (``words.json``), and an area that
covers the chip's centre holds the focus ("a house in a residential area"). The same seed
always gives the same captions.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from rsvl.captions.text import NounPhrase, join_list
from rsvl.errors import ConfigError
from rsvl.osm.datafiles import load_data
from rsvl.osm.tags import describe_parts

DEFAULT_TEMPLATE_SET = "skyscript"


@dataclass(frozen=True)
class TemplateSet:
    """One named set of caption templates (see ``caption_templates.json``)."""

    name: str
    plain: str
    in_area: str
    focus_only: tuple[str, ...]
    with_context: tuple[str, ...]
    max_context: int


@cache
def _template_sets() -> dict[str, TemplateSet]:
    return {
        name: TemplateSet(
            name,
            entry["plain"],
            entry["in_area"],
            tuple(entry["focus_only"]),
            tuple(entry["with_context"]),
            entry["max_context"],
        )
        for name, entry in load_data("rsvl.captions", "caption_templates.json").items()
    }


def list_template_sets() -> list[str]:
    """Names of the caption template sets."""
    return sorted(_template_sets())


def get_template_set(name: str) -> TemplateSet:
    """The template set called ``name``.

    Raises:
        ConfigError: No such set.
    """
    try:
        return _template_sets()[name]
    except KeyError:
        raise ConfigError(
            f"unknown caption template set {name!r}; choose one of {list_template_sets()}"
        ) from None


# Area-like kinds hold the focus when they cover the chip's centre; objects and lines never do.
_HOLDING_KINDS = ("area", "mass", "plural")


def _noun_phrase(tags: Mapping[str, Any]) -> NounPhrase | None:
    parts = describe_parts(tags)
    return None if parts is None else NounPhrase.of(parts, attributes=False)


def holding_area(context: Sequence[Mapping[str, Any]], inside: Sequence[bool],
                 focus: NounPhrase | None = None) -> NounPhrase | None:
    """The first area, surface or land use that covers the chip's centre (the focus lies in it).

    Args:
        context: Tags of the other features, nearest first.
        inside: Per feature, whether it covers the chip's centre.
        focus: The focus phrase: an area of its own noun does not hold it.
    """
    return _holding([_noun_phrase(tags) for tags in context], inside, focus)


def _holding(nouns: Sequence[NounPhrase | None], inside: Sequence[bool],
             focus: NounPhrase | None) -> NounPhrase | None:
    for phrase, covers in zip(nouns, inside, strict=True):
        if covers and phrase is not None and phrase.kind in _HOLDING_KINDS and (
                focus is None or phrase.noun != focus.noun):
            return phrase
    return None


def context_phrase(context: Sequence[Mapping[str, Any]], max_phrases: int,
                   focus: NounPhrase | None = None) -> str | None:
    """The features around the focus as one phrase, in the order given (nearest first).

    Features with the same noun are named together, countable objects with their count
    ("three houses"), others without ("footpaths", "a residential area", "farmland"); features
    with the focus's noun are "other" ones ("two other houses"; areas of the focus's own kind are
    not named again); nothing groundable is skipped; at most ``max_phrases`` distinct nouns.
    """
    return _context([_noun_phrase(tags) for tags in context], max_phrases, focus)


def _context(nouns: Sequence[NounPhrase | None], max_phrases: int,
             focus: NounPhrase | None) -> str | None:
    # Counter keeps first-seen order: the caller's nearest/largest-first order. Features are
    # grouped by noun: the same noun under two keys (water=harbour, landuse=harbour) is one.
    counts = Counter(phrase.noun for phrase in nouns if phrase is not None)
    first = {phrase.noun: phrase for phrase in reversed(nouns) if phrase is not None}
    named: list[str] = []
    for noun, count in counts.items():
        form = first[noun].form(count, other=focus is not None and noun == focus.noun)
        if form is not None:
            named.append(form)
            if len(named) == max_phrases:
                break
    return join_list(named) if named else None


def make_captions(
    focus_tags: Mapping[str, Any],
    context: Sequence[Mapping[str, Any]],
    seed: int | str,
    n: int = 3,
    template_set: str = DEFAULT_TEMPLATE_SET,
    inside: Sequence[bool] | None = None,
) -> list[str]:
    """Captions for a chip: its focus feature and the features around it.

    Args:
        focus_tags: Raw or cleaned tags of the focus feature.
        context: Tags of the other features in the chip, nearest or largest first.
        seed: Seeds the choice of templates (for example the chip's key).
        n: Number of captions wanted.
        template_set: Name of a set in ``caption_templates.json``.
        inside: Per context feature, whether it covers the chip's centre (the focus lies in
            it); None: not known, no feature holds the focus.

    Returns:
        Up to ``n`` distinct captions: first ``a satellite image of {focus}``, then (when the
        context has groundable features) one naming them, then variants. Empty when the focus
        feature has nothing groundable.
    """
    templates = get_template_set(template_set)
    parts = describe_parts(focus_tags)
    if parts is None or n <= 0:
        return []
    phrase = NounPhrase.of(parts)
    focus = str(phrase.form(1))
    nouns = [_noun_phrase(tags) for tags in context]
    holding = _holding(nouns, inside, phrase) if inside is not None else None
    scene = focus
    if holding is not None:
        scene = templates.in_area.format(focus=focus, area=holding.form(1))
        # The holding area's other fragments are the same area: not named again.
        nouns = [other for other in nouns if other is None or other.noun != holding.noun]
    rng = random.Random(f"rsvl-captions:{seed}")
    surroundings = _context(nouns, templates.max_context, phrase)
    chosen = [templates.plain.format(focus=focus)]
    variants = list(templates.focus_only)
    if surroundings is not None:
        with_context = list(templates.with_context)
        rng.shuffle(with_context)
        chosen.append(with_context[0].format(scene=scene, context=surroundings))
        variants += with_context[1:]
    rng.shuffle(variants)
    chosen += [template.format(scene=scene, context=surroundings) for template in variants]
    return list(dict.fromkeys(chosen))[:n]
