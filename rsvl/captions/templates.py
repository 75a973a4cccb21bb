"""Seeded captions from templates kept as data (``caption_templates.json``), SkyScript style.

The first caption is always SkyScript's ``a satellite image of {focus}``; the next one, when
there are surrounding objects, names them with counts; the rest are drawn from aerial and
remote-sensing variants. The same seed always gives the same captions.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from rsvl.captions.text import counted, join_list
from rsvl.errors import ConfigError
from rsvl.osm.datafiles import load_data
from rsvl.osm.tags import describe

DEFAULT_TEMPLATE_SET = "skyscript"


@dataclass(frozen=True)
class TemplateSet:
    """One named set of caption templates (see ``caption_templates.json``)."""

    name: str
    plain: str
    focus_only: tuple[str, ...]
    with_context: tuple[str, ...]
    max_context: int


@cache
def _template_sets() -> dict[str, TemplateSet]:
    return {
        name: TemplateSet(
            name,
            entry["plain"],
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


def context_phrase(context: Sequence[Mapping[str, Any]], max_phrases: int) -> str | None:
    """Surrounding objects as one phrase with counts, in the order given (nearest first).

    Objects with the same description are counted together ("three houses"); objects with
    nothing groundable are skipped; at most ``max_phrases`` distinct descriptions are kept.
    """
    counts = Counter(phrase for phrase in map(describe, context) if phrase)
    if not counts:
        return None
    # Counter keeps first-seen order: the caller's nearest/largest-first order.
    kept = list(counts.items())[:max_phrases]
    return join_list([counted(phrase, count) for phrase, count in kept])


def make_captions(
    focus_tags: Mapping[str, Any],
    context: Sequence[Mapping[str, Any]],
    seed: int | str,
    n: int = 3,
    template_set: str = DEFAULT_TEMPLATE_SET,
) -> list[str]:
    """Captions for a chip: its focus object and the objects around it.

    Args:
        focus_tags: Raw or cleaned tags of the focus object.
        context: Tags of the other objects in the chip, nearest or largest first.
        seed: Seeds the choice of templates (for example the chip's key).
        n: Number of captions wanted.
        template_set: Name of a set in ``caption_templates.json``.

    Returns:
        Up to ``n`` distinct captions: first ``a satellite image of {focus}``, then (when the
        context has groundable objects) one naming them, then variants. Empty when the focus
        object has nothing groundable.
    """
    templates = get_template_set(template_set)
    focus = describe(focus_tags)
    if focus is None or n <= 0:
        return []
    rng = random.Random(f"rsvl-captions:{seed}")
    surroundings = context_phrase(context, templates.max_context)
    chosen = [templates.plain.format(focus=focus)]
    variants = list(templates.focus_only)
    if surroundings is not None:
        with_context = list(templates.with_context)
        rng.shuffle(with_context)
        chosen.append(with_context[0].format(focus=focus, context=surroundings))
        variants += with_context[1:]
    rng.shuffle(variants)
    chosen += [template.format(focus=focus, context=surroundings) for template in variants]
    return list(dict.fromkeys(chosen))[:n]
