"""Command-line flags derived from a config dataclass, so each setting is written once.

A :class:`ConfigFlags` adds to a parser ``--config FILE`` (JSON or YAML), repeatable ``--set
key.sub=VALUE`` and one flag per field of the dataclass (nested dataclasses included), whose
name, type and help come from the field (its name, annotation, default and the ``Attributes:``
entry of its class docstring):

- ``chip_size: int`` -> ``--chip-size N``; a field of a nested section is prefixed with the
  section's name (``split.cell_m`` -> ``--split-cell-m``) unless the section is flattened
  (``rule.chip_size`` -> ``--chip-size``);
- ``bool`` -> ``--name`` / ``--no-name``; a tuple or list -> ``--name V [V ...]``;
  a dict -> repeatable ``--singular KEY=VALUE`` (``imagery_options`` -> ``--imagery-option``).

Flags have no default of their own: a value comes from a flag if given, else from ``--set``,
else from the ``--config`` file, else from the dataclass.
"""

from __future__ import annotations

import argparse
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rsvl.cli.options import reader_option
from rsvl.config import (
    MISSING,
    Leaf,
    apply_overrides,
    from_dict,
    leaves,
    read_file,
    set_key,
    to_dict,
)
from rsvl.errors import ConfigError

_DEST = "config:"
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


@dataclass(frozen=True)
class ConfigFlags:
    """How one config dataclass appears on a command line.

    Attributes:
        cls: The config dataclass.
        flatten: Nested sections whose flags drop the section's name (``rule``: ``--chip-size``).
        aliases: Dotted key -> another accepted spelling of its flag (``--format``).
        types: Dotted key -> argparse ``type`` that checks the text (a scheduler spec).
        choices: Dotted key -> the values it may take (each item's, for a sequence), checked
            wherever the value comes from.
        skip: Dotted keys with no flag (set through ``--config`` or ``--set`` only).
    """

    cls: type
    flatten: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, Callable[[str], Any]] = field(default_factory=dict)
    choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    skip: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keys = {leaf.key for leaf in leaves(self.cls)}
        named = set(self.aliases) | set(self.types) | set(self.choices) | set(self.skip)
        stale = sorted(named - keys)
        if stale:  # a renamed field must take its flag rules along
            raise AssertionError(f"{self.cls.__name__} has no field {', '.join(stale)}")

    def leaves(self) -> list[Leaf]:
        """The fields that have a flag."""
        return [leaf for leaf in leaves(self.cls) if leaf.key not in self.skip]

    def flag(self, leaf: Leaf) -> str:
        """The flag of one field (without its alias)."""
        parts = leaf.key.split(".")
        if len(parts) > 1 and parts[0] in self.flatten:
            parts = parts[1:]
        name = "_".join(parts)
        if typing.get_origin(_bare(leaf.kind)) is dict:
            name = name.removesuffix("s")  # one KEY=VALUE per flag
        return "--" + name.replace("_", "-")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Add ``--config``, ``--set`` and one flag per field to ``parser``."""
        parser.add_argument("--config", dest="config_file", metavar="FILE",
                            help=f"JSON or YAML file of {self.cls.__name__} settings (flags "
                            "override it)")
        example = max(self.leaves(), key=lambda leaf: (leaf.default is not MISSING
                                                       and isinstance(leaf.default, int | float),
                                                       "." in leaf.key))
        parser.add_argument("--set", dest="overrides", action="append", default=[],
                            metavar="KEY=VALUE", help="override one setting by its dotted key, "
                            f"e.g. --set {example.key}={example.default} (repeatable; flags "
                            "override it)")
        docs = field_docs(self.cls)
        for leaf in self.leaves():
            names = [self.flag(leaf)] + ([self.aliases[leaf.key]] if leaf.key in self.aliases
                                         else [])
            help_text = docs.get((leaf.owner, leaf.name), "") + _default_text(leaf)
            kind = _argument_kind(leaf, self.types.get(leaf.key))
            if leaf.key in self.choices:  # usage shows {a,b} instead of the metavar
                kind.pop("metavar", None)
                kind["choices"] = self.choices[leaf.key]
            parser.add_argument(*names, dest=_DEST + leaf.key, default=argparse.SUPPRESS,
                                help=help_text.replace("%", "%%").strip(), **kind)

    def payload(self, args: argparse.Namespace) -> dict[str, Any]:
        """The settings as plain data: the ``--config`` file, then ``--set``, then flags."""
        payload = read_file(args.config_file) if args.config_file else {}
        payload = apply_overrides(payload, args.overrides, self.cls)
        given = vars(args)
        for leaf in self.leaves():
            if _DEST + leaf.key not in given:
                continue
            value = given[_DEST + leaf.key]
            if typing.get_origin(_bare(leaf.kind)) is dict:  # flags add to the file's items
                earlier = _lookup(payload, leaf.key)
                value = {**(earlier if isinstance(earlier, dict) else {}), **dict(value)}
            set_key(payload, leaf.key, value, self.cls, origin=self.flag(leaf))
        return payload

    def build(self, payload: dict[str, Any], args: argparse.Namespace) -> Any:
        """The config dataclass from ``payload``; a missing required setting names its flag."""
        for leaf in self.leaves():
            if leaf.default is MISSING and _lookup(payload, leaf.key) is MISSING:
                raise ConfigError(f"give {self.flag(leaf)} (or {leaf.key} in the --config file)")
        config: Any = from_dict(self.cls, payload, origin=args.config_file or "command line")
        for key, allowed in self.choices.items():
            value = _lookup(to_dict(config), key)
            for item in value if isinstance(value, list) else [value]:
                if item not in allowed:
                    raise ConfigError(f"{key}={item!r} ({self.flag(_leaf(self.cls, key))}); "
                                      f"expected one of {list(allowed)}")
        return config

    def from_args(self, args: argparse.Namespace) -> Any:
        """The config dataclass the parsed arguments describe."""
        return self.build(self.payload(args), args)


def field_docs(cls: type) -> dict[tuple[type, str], str]:
    """``(class, field) -> help`` from the ``Attributes:`` sections of ``cls`` and the
    dataclasses nested in it (Google style; ``a, b: text`` documents both)."""
    docs: dict[tuple[type, str], str] = {}
    for owner in {leaf.owner for leaf in leaves(cls)}:
        for names, text in _attributes(inspect.cleandoc(owner.__doc__ or "")).items():
            for name in names.split(","):
                docs[(owner, name.strip())] = _plain(text)
    return docs


def _attributes(doc: str) -> dict[str, str]:
    """Entry -> text of a docstring's ``Attributes:`` section."""
    entries: dict[str, str] = {}
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return entries
    base = len(lines[start]) - len(lines[start].lstrip())
    current, entry_indent = None, 0
    for line in lines[start + 1:]:
        indent = len(line) - len(line.lstrip())
        if line.strip() and indent <= base:
            break
        match = re.match(r"\s*([\w, ]+):\s*(.*)$", line)
        if match and current is not None and indent > entry_indent:
            entries[current] += " " + line.strip()
        elif match:
            current, entry_indent = match.group(1), indent
            entries[current] = match.group(2)
        elif current is not None and line.strip():
            entries[current] += " " + line.strip()
    return entries


def _plain(text: str) -> str:
    """Docstring markup as plain text (``x`` -> x, :func:`~a.b` -> a.b)."""
    text = _ROLE.sub(lambda m: m.group(1), text).replace("``", "")
    return " ".join(text.split())


def _leaf(cls: type, key: str) -> Leaf:
    return next(leaf for leaf in leaves(cls) if leaf.key == key)


def _bare(kind: Any) -> Any:
    """``X | None`` -> ``X`` (flags cannot give None; ``--set key=null`` can)."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if type(None) in typing.get_args(kind) and len(args) == 1:
        return args[0]
    return kind


def _argument_kind(leaf: Leaf, check: Callable[[str], Any] | None) -> dict[str, Any]:
    """``add_argument`` keywords for the field's type."""
    kind = _bare(leaf.kind)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is dict:
        return {"action": "append", "type": reader_option, "metavar": "KEY=VALUE"}
    if origin in (list, tuple):
        item = args[0] if args else str
        fixed = origin is tuple and args and args[-1] is not Ellipsis
        return {"type": check or item, "nargs": len(args) if fixed else "+",
                "metavar": getattr(item, "__name__", "VALUE").upper()}
    if kind in (int, float, str):
        return {"type": check or kind, "metavar": leaf.name.upper()}
    raise AssertionError(f"{leaf.key}: no flag for {kind}; add it to skip")


def _default_text(leaf: Leaf) -> str:
    value = leaf.default
    if value is MISSING or value in (None, {}, [], ()):
        return ""
    if isinstance(value, tuple | list):
        value = " ".join(str(v) for v in value)
    return f" (default: {value})"


def _lookup(payload: Mapping[str, Any], key: str) -> Any:
    """The value at dotted ``key`` of nested ``payload`` (:data:`MISSING` when absent)."""
    node: Any = payload
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node
