"""RSVQA-style questions about one chip, from the OSM features it contains.

The recipe (RSVQA, Lobry et al. 2020; ``data_builders/README.md``): intersect the features with
the chip; ask presence, count, comparison, area and rural/urban questions about object
categories (buildings by type, roads, water, land-use classes), optionally narrowed by an
attribute (small/medium/large by area, square/rectangular/circular by shape) or a spatial
relation to another category.
Categories, templates, bins and thresholds are data (``question_templates.json``).

An object is *in* a chip when its geometry shares interior with the chip footprint (touching
the edge is not enough); counts and presence answers follow that rule exactly.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from rsvl.errors import ConfigError

Bounds = tuple[float, float, float, float]
YES, NO = "yes", "no"
QUESTION_TYPES = ("presence", "count", "comp", "area", "rural_urban")
_VOWEL_AFTER_A = re.compile(r"\ba (?=[aeiou])")


@dataclass(frozen=True)
class Category:
    """An object category questions ask about.

    Attributes:
        name: Identifier (``house``).
        singular, plural: How questions name one or several of them.
        area: Polygon category: area questions and size/shape attributes make sense.
        attributes: Ask size/shape variants (``small house``).
        match: Tag filters; a feature is a member when any filter matches all its keys
            (a filter value ``"*"`` accepts any value, a list accepts those values).
    """

    name: str
    singular: str
    plural: str
    area: bool
    attributes: bool
    match: tuple[Mapping[str, Any], ...]

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether a feature with these (cleaned) tags belongs to the category."""
        return any(all(key in tags and (wanted == "*" or tags[key] in wanted)
                       for key, wanted in rule.items()) for rule in self.match)


@cache
def _data() -> dict[str, Any]:
    text = (resources.files("rsvl.vqa").joinpath("question_templates.json")
            .read_text(encoding="utf-8"))
    return json.loads(text)


@cache
def _categories() -> dict[str, Category]:
    return {c["name"]: Category(c["name"], c["singular"], c["plural"], c["area"], c["attributes"],
                                tuple(c["match"])) for c in _data()["categories"]}


def list_categories() -> list[str]:
    """Names of the object categories (``question_templates.json``)."""
    return list(_categories())


def get_category(name: str) -> Category:
    """The category called ``name``; a clear error for an unknown one."""
    try:
        return _categories()[name]
    except KeyError:
        raise ConfigError(f"unknown VQA category {name!r}; choose from "
                          f"{', '.join(_categories())}") from None


def bin_answer(value: float, kind: str) -> str:
    """The RSVQA-LR bin label of a count or an area in m2 (``kind``: ``count`` or ``area``).

    Values above 0 and at most 1 fall in the first non-zero bin: something is there.
    """
    bins = _data()["bins"][kind]
    if value <= 0:
        return str(bins["labels"][0])
    for upper, label in zip(bins["upper"][1:], bins["labels"][1:], strict=False):
        if value <= upper:
            return str(label)
    return str(bins["labels"][-1])


def bin_count_answer(answer: str) -> str:
    """A count answer (``"57"``) as its LR bin label; answers that are not integers are kept."""
    return bin_answer(int(answer), "count") if answer.strip().isdigit() else answer


def size_of(area_m2: float) -> str:
    """``small``, ``medium`` or ``large`` by footprint area (``question_templates.json``)."""
    for name, (low, high) in _data()["sizes"].items():
        if area_m2 >= low and (high is None or area_m2 < high):
            return str(name)
    raise ConfigError(f"no size range holds {area_m2} m2; fix 'sizes' in question_templates.json")


def shape_of(geometry: BaseGeometry) -> str | None:
    """``circular``, ``square`` or ``rectangular`` for a polygon, ``None`` when irregular."""
    if geometry.geom_type != "Polygon" or geometry.area <= 0:
        return None
    rule = _data()["shapes"]
    if 4 * math.pi * geometry.area / geometry.length**2 >= rule["min_circle_compactness"]:
        return "circular"
    rectangle = geometry.minimum_rotated_rectangle
    if geometry.area / rectangle.area < rule["min_fill"]:
        return None
    corners = list(rectangle.exterior.coords)
    sides = sorted(math.dist(corners[i], corners[i + 1]) for i in range(2))
    return "square" if sides[1] / sides[0] <= rule["max_square_aspect"] else "rectangular"


@dataclass(frozen=True)
class QuestionOptions:
    """What the question builder asks.

    Attributes:
        categories: Category names to ask about (``None``: all in ``question_templates.json``).
        attributes: Also ask about size/shape variants of attribute categories.
        relations: Also ask about objects in a spatial relation to another category.
        bin_counts: Answer counts with the LR bins instead of the exact number.
        per_type: Questions kept per chip and type (presence, count, comp, area).
        balance: Balance answers per split (yes/no equal; count answers capped).
        yes_no_share: Largest share of one answer in a two-answer type (yes/no, rural/urban)
            after balancing.
        count_share: Largest share of one answer in a type with more answers (counts, areas)
            after balancing.
    """

    categories: tuple[str, ...] | None = None
    attributes: bool = True
    relations: bool = True
    bin_counts: bool = False
    per_type: int = 6
    balance: bool = True
    yes_no_share: float = 0.5
    count_share: float = 0.3

    def __post_init__(self) -> None:
        if self.per_type < 1 or not 0 < self.yes_no_share < 1 or not 0 < self.count_share < 1:
            raise ConfigError("question options need per_type >= 1 and answer shares in (0, 1)")
        for name in self.categories or ():
            get_category(name)


@dataclass(frozen=True)
class Question:
    """One generated question and its answer.

    Attributes:
        type: RSVQA question type (``presence``, ``count``, ``comp``, ``area``, ``rural_urban``).
        question: The question text.
        answer: The answer text.
        key: What is asked, independent of the wording (de-duplication key).
    """

    type: str
    question: str
    answer: str
    key: str


@dataclass
class _Object:
    geometry: BaseGeometry  # clipped to the chip
    categories: frozenset[str]
    size: str | None
    shape: str | None


@dataclass(frozen=True)
class _Subject:
    """Objects a question is about: a category, maybe an attribute, maybe a relation."""

    category: Category
    attribute: str | None = None
    relation: str | None = None
    other: Category | None = None

    @property
    def key(self) -> str:
        parts = [self.attribute or "", self.category.name, self.relation or "",
                 self.other.name if self.other else ""]
        return ":".join(parts)

    def phrase(self, plural: bool) -> str:
        noun = self.category.plural if plural else self.category.singular
        words = [self.attribute, noun]
        if self.relation and self.other:
            words += [_data()["relations"][self.relation]["phrase"], "a", self.other.singular]
        return " ".join(w for w in words if w)


def _next_to(a: BaseGeometry, b: BaseGeometry, metres: float) -> bool:
    return bool(a.distance(b) <= _data()["relations"]["next_to"]["distance_m"] / metres)


# Relation name (question_templates.json) -> predicate(object, other, metres per CRS unit).
RELATIONS: dict[str, Callable[[BaseGeometry, BaseGeometry, float], bool]] = {
    "next_to": _next_to,
    "left_of": lambda a, b, m: bool(a.centroid.x < b.bounds[0]),
    "right_of": lambda a, b, m: bool(a.centroid.x > b.bounds[2]),
    "top_of": lambda a, b, m: bool(a.centroid.y > b.bounds[3]),
    "bottom_of": lambda a, b, m: bool(a.centroid.y < b.bounds[1]),
}


def objects_in_chip(geometries: Sequence[BaseGeometry], chip_bounds: Bounds) -> list[int]:
    """Indices of the geometries sharing interior with the chip (not merely touching it)."""
    chip = box(*chip_bounds)
    return [i for i, g in enumerate(geometries) if g.intersects(chip) and not g.touches(chip)]


@dataclass
class ChipScene:
    """The objects of one chip, by category, with what questions need to know about them.

    Attributes:
        bounds: Chip footprint in the features' CRS.
        metres: Metres per CRS unit at the chip (1 for UTM).
        objects: Objects in the chip, clipped to it.
    """

    bounds: Bounds
    metres: float
    objects: list[_Object] = field(default_factory=list)

    @classmethod
    def from_features(cls, features: Iterable[tuple[Mapping[str, str], BaseGeometry]],
                      bounds: Bounds, metres: float = 1.0,
                      categories: Sequence[Category] | None = None) -> ChipScene:
        """Intersect ``(tags, geometry)`` features (in a metric-like CRS) with the chip."""
        wanted = list(categories or _categories().values())
        rows = list(features)
        inside = objects_in_chip([g for _, g in rows], bounds)
        chip = box(*bounds)
        scene = cls(bounds, metres)
        for index in inside:
            tags, geometry = rows[index]
            members = frozenset(c.name for c in wanted if c.matches(tags))
            if not members:
                continue
            polygon = geometry.geom_type in ("Polygon", "MultiPolygon")
            scene.objects.append(_Object(
                geometry.intersection(chip), members,
                size_of(geometry.area * metres**2) if polygon else None,
                shape_of(geometry) if polygon else None,
            ))
        return scene

    def members(self, subject: _Subject) -> list[_Object]:
        """The chip's objects a subject describes."""
        found = [o for o in self.objects if subject.category.name in o.categories
                 and subject.attribute in (None, o.size, o.shape)]
        if subject.relation and subject.other:
            others = [o for o in self.objects if subject.other.name in o.categories]
            related = RELATIONS[subject.relation]
            found = [o for o in found if any(p is not o and related(o.geometry, p.geometry,
                                                                   self.metres) for p in others)]
        return found

    def count(self, subject: _Subject) -> int:
        """Number of objects of the subject in the chip."""
        return len(self.members(subject))

    def area_m2(self, subject: _Subject) -> float:
        """Ground area the subject's objects cover inside the chip (overlaps counted once)."""
        parts = [o.geometry for o in self.members(subject)]
        return float(shapely.union_all(parts).area) * self.metres**2 if parts else 0.0

    def is_urban(self) -> bool:
        """The rural/urban rule: building density in the chip reaches the threshold."""
        rule = _data()["rural_urban"]
        minx, miny, maxx, maxy = self.bounds
        km2 = (maxx - minx) * (maxy - miny) * self.metres**2 / 1e6
        buildings = self.count(_Subject(get_category(rule["category"])))
        return buildings / km2 >= rule["urban_min_per_km2"]


def _subjects(scene: ChipScene, options: QuestionOptions, rng: random.Random) -> list[_Subject]:
    names = options.categories or tuple(_categories())
    categories = [get_category(n) for n in names]
    subjects = [_Subject(c) for c in categories]
    if options.attributes:
        values = list(_data()["sizes"]) + ["square", "rectangular", "circular"]
        subjects += [_Subject(c, v) for c in categories if c.attributes for v in values]
    if options.relations:
        present = [c for c in categories if any(c.name in o.categories for o in scene.objects)]
        pairs = [(a, r, b) for a in present for b in present if a != b for r in RELATIONS]
        subjects += [_Subject(a, None, r, b) for a, r, b in rng.sample(pairs, min(4, len(pairs)))]
    return subjects


def _ask(kind: str, rng: random.Random, **names: str) -> str:
    text = rng.choice(_data()["templates"][kind]).format(**names)
    return _VOWEL_AFTER_A.sub("an ", text)


def _stratified(candidates: list[tuple[bool, Question]], limit: int,
                rng: random.Random) -> list[Question]:
    """Up to ``limit`` questions, half from the ``True`` group when it has enough."""
    positives = [q for flag, q in candidates if flag]
    negatives = [q for flag, q in candidates if not flag]
    rng.shuffle(positives)
    rng.shuffle(negatives)
    take = min(len(positives), max(limit // 2, limit - len(negatives)))
    return positives[:take] + negatives[: limit - take]


def chip_questions(scene: ChipScene, options: QuestionOptions, seed: str) -> list[Question]:
    """The questions about one chip, de-duplicated, in a seeded random order.

    Args:
        scene: The chip's objects (:meth:`ChipScene.from_features`).
        options: What to ask.
        seed: Seed string (e.g. ``"{build seed}:{chip id}"``): same seed, same questions.
    """
    rng = random.Random(seed)
    subjects = _subjects(scene, options, rng)
    counts = {s.key: scene.count(s) for s in subjects}
    presence = [(counts[s.key] > 0, Question(
        "presence", _ask("presence", rng, o=s.phrase(False)), YES if counts[s.key] else NO,
        f"presence:{s.key}")) for s in subjects]
    count = [(counts[s.key] > 0, Question(
        "count", _ask("count", rng, os=s.phrase(True)),
        bin_answer(counts[s.key], "count") if options.bin_counts else str(counts[s.key]),
        f"count:{s.key}")) for s in subjects]
    area = [(counts[s.key] > 0, Question(
        "area", _ask("area", rng, os=s.phrase(True)), bin_answer(scene.area_m2(s), "area"),
        f"area:{s.key}")) for s in subjects if s.category.area and not s.relation]
    comparisons = []
    for _ in range(4 * options.per_type):
        a, b = rng.sample(subjects, 2)
        if counts[a.key] == counts[b.key] == 0:
            continue
        kind = rng.choice(("more", "less", "equal"))
        truth = {"more": counts[a.key] > counts[b.key], "less": counts[a.key] < counts[b.key],
                 "equal": counts[a.key] == counts[b.key]}[kind]
        # "less A than B" asks what "more B than A" asks: one key for both.
        key = f"comp:{kind}:{a.key}:{b.key}" if kind != "less" else f"comp:more:{b.key}:{a.key}"
        text = _ask(f"comp_{kind}", rng, a=a.phrase(False), b=b.phrase(False),
                    **{"as": a.phrase(True), "bs": b.phrase(True)})
        comparisons.append((truth, Question("comp", text, YES if truth else NO, key)))
    questions = [q for group in (presence, count, area, comparisons)
                 for q in _stratified(group, options.per_type, rng)]
    questions.append(Question("rural_urban", _ask("rural_urban", rng),
                              "urban" if scene.is_urban() else "rural", "rural_urban"))
    return deduplicate(questions)


def deduplicate(questions: Iterable[Question]) -> list[Question]:
    """Drop questions asking again what an earlier one asked (same key or same text)."""
    seen: set[str] = set()
    kept = []
    for question in questions:
        if question.key in seen or question.question in seen:
            continue
        seen.update((question.key, question.question))
        kept.append(question)
    return kept


def balance_answers(types: Sequence[str], answers: Sequence[str], options: QuestionOptions,
                    seed: int) -> list[int]:
    """Indices to keep so no answer dominates its question type (where possible).

    Two-answer types (yes/no, rural/urban) are cut until the majority answer's share is at
    most ``yes_no_share``; types with more answers (counts, areas) until no answer exceeds
    ``count_share``. A type with one answer only is kept whole: nothing to balance against.
    """
    rng = random.Random(seed)
    dropped: set[int] = set()
    for qtype in sorted(set(types)):
        indices = [i for i, t in enumerate(types) if t == qtype]
        by_answer: dict[str, list[int]] = {}
        for i in indices:
            by_answer.setdefault(answers[i], []).append(i)
        if len(by_answer) < 2:
            continue
        share = options.yes_no_share if len(by_answer) == 2 else options.count_share
        while True:
            sizes = Counter({a: len(ids) for a, ids in by_answer.items()})
            top, top_size = sizes.most_common(1)[0]
            others = sum(sizes.values()) - top_size
            limit = max(1, math.floor(share * others / (1 - share)))
            if top_size <= limit:
                break
            removed = set(rng.sample(by_answer[top], top_size - limit))
            dropped |= removed
            by_answer[top] = [i for i in by_answer[top] if i not in removed]
    return [i for i in range(len(types)) if i not in dropped]
