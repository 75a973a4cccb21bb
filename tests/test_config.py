"""rsvl.config: dataclasses from plain data, dotted overrides, one-line refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rsvl.config import (
    MISSING,
    apply_overrides,
    from_dict,
    leaves,
    load,
    read_file,
    set_key,
    to_dict,
)
from rsvl.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """A nested section.

    Attributes:
        chip_size: Side in pixels.
        cell_m: Cell side, or None for automatic.
    """

    chip_size: int = 224
    cell_m: float | None = None


@dataclass(frozen=True)
class Job:
    """A top-level config with a required field.

    Attributes:
        out: Output folder.
        name: A name.
        fractions: Three fractions.
        bands: Optional bands.
        options: Free-form reader options.
        pair: Exactly two numbers.
        rule: The nested rule.
    """

    out: str
    name: str = "osm"
    fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
    bands: tuple[int, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    pair: tuple[int, float] = (1, 2.0)
    rule: Rule = field(default_factory=Rule)


def test_from_dict_coerces_to_the_annotations() -> None:
    job = from_dict(Job, {"out": "o", "fractions": [1, 0, 0], "bands": [3, 2, 1],
                          "options": {"max_zoom": 17}, "pair": [5, 6],
                          "rule": {"chip_size": 96, "cell_m": 400}})
    assert job == Job(out="o", fractions=(1.0, 0.0, 0.0), bands=(3, 2, 1),
                      options={"max_zoom": 17}, pair=(5, 6.0), rule=Rule(96, 400.0))
    assert isinstance(job.fractions, tuple) and isinstance(job.rule.cell_m, float)
    assert from_dict(Job, {"out": "o", "bands": None}).bands is None


def test_to_dict_round_trips_through_json() -> None:
    job = Job(out="o", bands=(1, 2, 3), rule=Rule(cell_m=250.0))
    data = to_dict(job)
    assert data["fractions"] == [0.8, 0.1, 0.1] and data["rule"] == {"chip_size": 224,
                                                                      "cell_m": 250.0}
    assert from_dict(Job, json.loads(json.dumps(data))) == job


@pytest.mark.parametrize(("payload", "message"), [
    ({"out": "o", "rule": {"chip_sise": 1}}, "unknown key rule.chip_sise; did you mean "
                                             "rule.chip_size?"),
    ({"out": "o", "chip_size": 1}, "unknown key chip_size; did you mean rule.chip_size?"),
    ({"out": "o", "nmae": "x"}, "did you mean name?"),
    ({"name": "x"}, "missing key out"),
    ({"out": "o", "rule": {"chip_size": "big"}}, "rule.chip_size must be int, got 'big'"),
    ({"out": "o", "rule": {"chip_size": True}}, "rule.chip_size must be int"),
    ({"out": "o", "bands": "1"}, "bands must be a list of int or null"),
    ({"out": "o", "pair": [1, 2, 3]}, "pair must hold 2 values"),
    ({"out": "o", "rule": 5}, "rule must be a mapping"),
    ({"out": "o", "options": [1]}, "options must be a mapping"),
])
def test_mistakes_are_one_line_naming_the_key(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        from_dict(Job, payload, origin="job.yaml")
    text = str(error.value)
    assert text.startswith("job.yaml: ") and message in text and "\n" not in text


def test_overrides_are_typed_by_their_field() -> None:
    payload = apply_overrides({"out": "o"}, [
        "name=123", "rule.chip_size=96", "fractions=[0.7,0,0.3]", "rule.cell_m=null",
        "options.cache=/tmp/tiles", "options.max_zoom=17", "bands=[1, 2, 3]"], Job)
    job = from_dict(Job, payload)
    assert job.name == "123"  # text field: taken as typed, not as the number 123
    assert job.rule == Rule(96, None) and job.fractions == (0.7, 0.0, 0.3)
    assert job.options == {"cache": "/tmp/tiles", "max_zoom": 17} and job.bands == (1, 2, 3)


def test_overrides_leave_the_input_alone_and_refuse_unknown_keys() -> None:
    original = {"out": "o", "rule": {"chip_size": 1}}
    apply_overrides(original, ["rule.chip_size=2"], Job)
    assert original["rule"]["chip_size"] == 1
    with pytest.raises(ConfigError, match=r"--set rule\.chip=3: unknown key rule\.chip; did "
                                          r"you mean rule\.chip_size\?"):
        apply_overrides({}, ["rule.chip=3"], Job)
    with pytest.raises(ConfigError, match="is not key=value"):
        apply_overrides({}, ["rule.chip_size"], Job)
    with pytest.raises(ConfigError, match="name is a value, not a section"):
        apply_overrides({}, ["name.first=x"], Job)
    with pytest.raises(ConfigError, match="rule must be a mapping"):
        set_key({"rule": 3}, "rule.chip_size", 1)


def test_read_file_and_load(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("out: o\nrule:\n  chip_size: 64\n")
    assert load(Job, path, ["rule.chip_size=32"]) == Job(out="o", rule=Rule(chip_size=32))
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a mapping"):
        read_file(tmp_path / "list.json")
    (tmp_path / "bad.json").write_text("{out: }")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_file(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="config file not found"):
        read_file(tmp_path / "missing.yaml")


def test_leaves_flatten_nested_sections() -> None:
    found = {leaf.key: leaf for leaf in leaves(Job)}
    assert list(found) == ["out", "name", "fractions", "bands", "options", "pair",
                           "rule.chip_size", "rule.cell_m"]
    assert found["out"].default is MISSING and found["options"].default == {}
    assert (found["rule.chip_size"].owner, found["rule.chip_size"].name) == (Rule, "chip_size")
