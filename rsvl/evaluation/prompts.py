"""Prompt template sets, zero-shot presets and class display names, all read from data files.

``templates/<name>.json`` holds one template set (``{c}`` marks the class name);
``templates/presets.json`` maps each published protocol to its template set per dataset, its
ensembling rule and its class-name overrides. Class display names come from
:func:`rsvl.data.class_names.display_name`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from rsvl.errors import ConfigError, InputError

Ensemble = Literal["normalized", "raw"]
DEFAULT_PRESET = "rsvl"


def _package_json(*parts: str) -> Any:
    return json.loads(resources.files("rsvl.evaluation").joinpath(*parts).read_text())


@functools.cache
def _template_sets() -> dict[str, list[str]]:
    folder = resources.files("rsvl.evaluation").joinpath("prompt_sets")
    sets = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json") and entry.name != "presets.json":
            payload = json.loads(entry.read_text())
            sets[payload["name"]] = list(payload["templates"])
    return sets


def list_template_sets() -> list[str]:
    """Names of the bundled template sets."""
    return sorted(_template_sets())


def get_templates(name_or_path: str | Path) -> list[str]:
    """A bundled template set by name, or a JSON file: a list or ``{"templates": [...]}``."""
    sets = _template_sets()
    if str(name_or_path) in sets:
        return list(sets[str(name_or_path)])
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"unknown template set {name_or_path!r}: use one of {', '.join(sets)} or a JSON file"
        )
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not valid JSON ({error.msg}, line {error.lineno})") from None
    templates = payload.get("templates") if isinstance(payload, dict) else payload
    if not isinstance(templates, list) or not all(
        isinstance(t, str) and "{c}" in t for t in templates
    ):
        raise InputError(f"{path} must hold a list of templates, each containing {{c}}")
    return templates


@dataclass(frozen=True)
class Preset:
    """A published zero-shot protocol.

    Attributes:
        name: Preset name (``rsvl``, ``skyscript``, ``remoteclip``, ``rs5m``, ``clip_benchmark``).
        description: What it reproduces.
        templates: Dataset name -> template set name; ``default`` for the others.
        ensemble: ``normalized`` (normalise each prompt, average, renormalise) or ``raw``
            (average raw embeddings, then normalise: RS5M).
        class_names: Dataset name -> {folder name: class name} overrides.
    """

    name: str
    description: str
    templates: dict[str, str]
    ensemble: Ensemble
    class_names: dict[str, dict[str, str]]

    def template_set(self, dataset: str | None) -> str:
        """The template set this preset uses on ``dataset``."""
        return self.templates.get(dataset or "", self.templates["default"])


@functools.cache
def _presets() -> dict[str, Preset]:
    return {name: Preset(name=name, **cfg) for name, cfg in _package_json(
        "prompt_sets", "presets.json").items()}


def list_presets() -> list[str]:
    """Names of the zero-shot presets."""
    return sorted(_presets())


def get_preset(name: str) -> Preset:
    """The preset called ``name``."""
    preset = _presets().get(name)
    if preset is None:
        raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(list_presets())}")
    return preset


