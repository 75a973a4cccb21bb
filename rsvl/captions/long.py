"""Long descriptions: several sentences per chip from its region-text pairs.

:func:`long_description` says what the chip shows (its focus object first), how many of the
countable objects there are, where they lie in the chip ("in the top left", "along the bottom
edge") and how the focus relates to its neighbours ("next to", "surrounded by"). Words, articles,
plurals and counts come from :mod:`rsvl.captions.text` (inflect), as in the short captions; the
seed only picks among equivalent wordings, so a chip's description is fixed by the build seed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from rsvl.captions.text import NounPhrase, join_list
from rsvl.osm.tags import describe_parts

_OPENERS = ("This aerial image shows {x}", "The image shows {x}", "Seen from above, there is {x}")
_MOST = 0.6  # share of the chip a region covers to be "across most of the image"
_SPAN = 0.7  # share of a side an edge region spans to lie "along" that edge
_NEAR_PX = 2  # boxes this close (pixels) are "next to" each other
_MAX_PLACES = 3
_MAX_GROUPS = 4


def where(box: Sequence[int], shape: tuple[int, int]) -> str:
    """Where a pixel box ``[x0, y0, x1, y1]`` lies in a chip of ``(height, width)``."""
    x0, y0, x1, y1 = box
    height, width = shape
    if (x1 - x0) * (y1 - y0) >= _MOST * width * height:
        return "across most of the image"
    if x1 - x0 >= _SPAN * width and (y0 == 0 or y1 == height):
        return f"along the {'top' if y0 == 0 and y1 < height else 'bottom'} edge"
    if y1 - y0 >= _SPAN * height and (x0 == 0 or x1 == width):
        return f"along the {'left' if x0 == 0 and x1 < width else 'right'} edge"
    row = ("top", "", "bottom")[min(2, int(3 * (y0 + y1) / 2 / height))]
    col = ("left", "", "right")[min(2, int(3 * (x0 + x1) / 2 / width))]
    if row and col:
        return f"in the {row} {col}"
    if row:
        return f"at the {row}"
    return f"on the {col}" if col else "in the centre"


def _phrase(region: Mapping[str, Any], attributes: bool) -> NounPhrase | None:
    parts = describe_parts(region["tags"])
    return None if parts is None else NounPhrase.of(parts, attributes)


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _near(a: Sequence[int], b: Sequence[int]) -> bool:
    return (a[0] - _NEAR_PX < b[2] and b[0] - _NEAR_PX < a[2]
            and a[1] - _NEAR_PX < b[3] and b[1] - _NEAR_PX < a[3])


def _inside(inner: Sequence[int], outer: Sequence[int]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] \
        and inner[3] <= outer[3]


def long_description(regions: Sequence[Mapping[str, Any]], shape: tuple[int, int],
                     focus_id: str, seed: str | int = 0) -> str | None:
    """Several sentences describing a chip from its region-text pairs.

    Args:
        regions: The chip's regions (:func:`rsvl.builders.regions.chip_regions`).
        shape: The chip's ``(height, width)``.
        focus_id: The chip's focus object (described first, with its attributes).
        seed: Picks the wording (the build passes ``"{seed}:{key}"``).

    Returns:
        The description, or None when the focus object is not among the regions.
    """
    focus = next((r for r in regions if r["osm_id"] == focus_id), None)
    focus_phrase = None if focus is None else _phrase(focus, True)
    if focus is None or focus_phrase is None:
        return None
    rng = random.Random(f"long:{seed}")
    named = focus_phrase.form(1) or focus_phrase.head
    state = " (partly outside the image)" if focus["truncated"] else ""
    opener = rng.choice(_OPENERS).format(x=f"{named}{state} {where(focus['box'], shape)}")
    sentences = [_sentence(opener)]
    groups: dict[NounPhrase, list[Mapping[str, Any]]] = {}
    for region in regions:
        phrase = _phrase(region, False)
        if region is not focus and phrase is not None:
            groups.setdefault(phrase, []).append(region)
    for phrase, members in list(groups.items())[:_MAX_GROUPS]:
        other = phrase.noun == focus_phrase.noun
        text = phrase.form(len(members), other) or (None if other else phrase.form(1))
        if text is None:
            continue
        places = list(dict.fromkeys(where(m["box"], shape) for m in members))[:_MAX_PLACES]
        if phrase.kind == "object":
            verb = "is" if len(members) == 1 else "are"
            sentences.append(_sentence(f"{text} {verb} {join_list(places)}"))
        elif phrase.kind == "line":
            verb = "runs" if len(members) == 1 else "run"
            sentences.append(_sentence(f"{text} {verb} {join_list(places)}"))
        else:  # areas are not counted (words.json): the verb follows the phrase's number
            verb = "cover" if phrase.kind == "plural" else "covers"
            sentences.append(_sentence(f"{text} {verb} the area {join_list(places)}"
                                       if places[0] != "across most of the image"
                                       else f"{text} {verb} most of the image"))
    around = [r for r in regions if r is not focus and _phrase(r, False) is not None]
    holder = next((r for r in around if r["area_px"] > focus["area_px"]
                   and _inside(focus["box"], r["box"])
                   and _phrase(r, False).kind not in ("object", "line")),  # type: ignore[union-attr]
                  None)  # only an area surrounds (a river's box also holds a track's)
    neighbour = next((r for r in around if r is not holder and _near(focus["box"], r["box"])
                      and not _inside(focus["box"], r["box"])), None)
    subject = f"the {focus_phrase.noun}"
    if holder is not None:
        sentences.append(_sentence(
            f"{subject} is surrounded by {_phrase(holder, False).form(1)}"))  # type: ignore[union-attr]
    if neighbour is not None:
        near = _phrase(neighbour, False)
        named_near = None if near is None else near.form(1, near.noun == focus_phrase.noun)
        if named_near:
            sentences.append(_sentence(f"{subject} is next to {named_near}"))
    return " ".join(sentences)
