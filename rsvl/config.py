"""Configuration as data: dataclasses loaded from JSON/YAML files plus dotted overrides.

Every configurable job (training, the dataset builds) holds its settings in dataclasses, whose
defaults exist once, there. This module turns plain data into those dataclasses and back:

- :func:`read_file` reads a JSON or YAML mapping;
- :func:`apply_overrides` sets dotted ``key.sub=value`` assignments (``rule.chip_size=128``),
  refusing unknown keys with the nearest valid one;
- :func:`from_dict` builds the dataclass, checking every value against its annotation (nested
  dataclasses, ``X | None``, lists, tuples, dicts) and refusing unknown or missing keys;
- :func:`to_dict` gives the JSON-serialisable data back (what manifests record);
- :func:`leaves` lists the dotted keys, types and defaults (what the command line derives its
  flags from).

Every mistake is one :class:`~rsvl.errors.ConfigError` line naming where it came from.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rsvl.errors import ConfigError

__all__ = [
    "MISSING",
    "Leaf",
    "apply_overrides",
    "from_dict",
    "leaves",
    "load",
    "read_file",
    "set_key",
    "to_dict",
]

T = TypeVar("T")
MISSING = dataclasses.MISSING


@dataclass(frozen=True)
class Leaf:
    """One settable value of a (possibly nested) config dataclass.

    Attributes:
        key: Dotted path from the top dataclass (``rule.chip_size``).
        kind: The field's annotation, resolved (``int``, ``tuple[float, ...]``, ``str | None``).
        default: The default value (built from ``default_factory`` if any), or :data:`MISSING`
            for a required field.
        owner: The dataclass declaring the field (its docstring documents it).
        name: The field's name in ``owner``.
    """

    key: str
    kind: Any
    default: Any
    owner: type
    name: str


class _Text(str):
    """An override's value as typed on the command line, parsed once its field's type is known
    (``name=123`` stays text for a ``str`` field; ``seed=123`` is the number 123)."""


def _is_dataclass_type(kind: Any) -> bool:
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def leaves(cls: type) -> list[Leaf]:
    """Every non-dataclass field of ``cls``, nested dataclass fields flattened to dotted keys."""
    return list(_walk(cls, ""))


def _walk(cls: type, prefix: str) -> Iterator[Leaf]:
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        kind = hints[spec.name]
        if _is_dataclass_type(kind):
            yield from _walk(kind, f"{prefix}{spec.name}.")
            continue
        default = spec.default
        if spec.default_factory is not MISSING:
            default = spec.default_factory()
        yield Leaf(f"{prefix}{spec.name}", kind, default, cls, spec.name)


def read_file(path: str | Path) -> dict[str, Any]:
    """A JSON (``.json``) or YAML (``.yaml``/``.yml``) file holding a mapping.

    Raises:
        ConfigError: The file is missing, unparsable, or not a mapping at the top level.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            payload = yaml.safe_load(text) or {}
        else:
            payload = json.loads(text)
    except (ValueError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0]
        kind = path.suffix.lstrip(".").upper() or "JSON"
        raise ConfigError(f"{path}: not valid {kind} ({reason})") from None
    if not isinstance(payload, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return payload


def _unknown(key: str, known: Sequence[str], prefix: str, cls: type | None = None) -> str:
    """``unknown key K; did you mean N?`` with the nearest known name (or the known names).

    With ``cls`` (the top-level dataclass), the fields of its nested sections are candidates
    too, so ``chip_size`` finds ``rule.chip_size``.
    """
    deeper = {leaf.name: leaf.key for leaf in leaves(cls) if "." in leaf.key} if cls else {}
    candidates = list(known) + [name for name in deeper if name not in known]
    close = difflib.get_close_matches(str(key), candidates, n=1)
    if not close:
        return f"unknown key {prefix}{key}; known: {', '.join(known)}"
    nearest = f"{prefix}{close[0]}" if close[0] in known else deeper[close[0]]
    return f"unknown key {prefix}{key}; did you mean {nearest}?"


def set_key(payload: dict[str, Any], key: str, value: Any, cls: type | None = None,
            origin: str = "config") -> None:
    """Set dotted ``key`` in nested ``payload`` (in place), creating the sections on the way.

    Args:
        payload: Plain data (as read from a file).
        key: Dotted path (``rule.chip_size``).
        value: The value to store.
        cls: When given, the dataclass ``payload`` describes: an unknown key is refused here,
            naming the nearest valid key.
        origin: Where the assignment came from, for error messages.

    Raises:
        ConfigError: An unknown key, or a section that is not a mapping.
    """
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"{origin}: {key!r} is not a dotted key (e.g. rule.chip_size)")
    node, kind = payload, cls
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth]) + "." if depth else ""
        if kind is not None:
            names = [f.name for f in dataclasses.fields(kind)]
            if part not in names:
                message = _unknown(part, names, prefix, None if depth else kind)
                raise ConfigError(f"{origin}: {message}")
            inner = typing.get_type_hints(kind)[part]
            opens = _is_dataclass_type(inner) or typing.get_origin(inner) is dict
            if depth < len(parts) - 1 and not opens:
                raise ConfigError(f"{origin}: {prefix}{part} is a value, not a section")
            # Inside a dict field (imagery_options.max_zoom) any key goes.
            kind = inner if _is_dataclass_type(inner) else None
        if depth == len(parts) - 1:
            node[part] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: {prefix}{part} must be a mapping to set {key}")
        node = child


def apply_overrides(payload: Mapping[str, Any], overrides: Sequence[str],
                    cls: type | None = None) -> dict[str, Any]:
    """A copy of ``payload`` with each ``key.sub=value`` assignment of ``overrides`` applied.

    A value is JSON when it parses as JSON for a non-text field (``optim.lr=1e-4``,
    ``split_fractions=[0.7,0,0.3]``, ``scheduler=null``), and the text as typed otherwise.

    Raises:
        ConfigError: An assignment without ``=``, or (with ``cls``) an unknown key.
    """
    result = copy.deepcopy(dict(payload))
    for assignment in overrides:
        key, sep, raw = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {assignment!r} is not key=value (e.g. rule.chip_size=128)")
        set_key(result, key.strip(), _Text(raw.strip()), cls, origin=f"--set {assignment}")
    return result


def from_dict(cls: type[T], payload: Any, origin: str = "config", prefix: str = "") -> T:
    """Build dataclass ``cls`` from plain data, checking keys and types.

    Ints are accepted where floats are expected, lists where tuples are; nested dataclasses
    come from nested mappings; keys left out take the field's default.

    Args:
        cls: The dataclass.
        payload: A mapping of field names to values.
        origin: Where the data came from (a file name), for error messages.
        prefix: Dotted path of ``cls`` inside the top-level config (for error messages).

    Raises:
        ConfigError: One line naming ``origin`` and the key for an unknown key, a missing
            required key or a value of the wrong type.
    """
    where = prefix.rstrip(".") or "top level"
    if not isinstance(payload, dict):
        raise ConfigError(f"{origin}: {where} must be a mapping, got {type(payload).__name__}")
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in fields]
    for key in payload:
        if key not in names:
            message = _unknown(key, names, prefix, None if prefix else cls)
            raise ConfigError(f"{origin}: {message}")
    for spec in fields:
        if (spec.name not in payload and spec.default is MISSING
                and spec.default_factory is MISSING):
            raise ConfigError(f"{origin}: missing key {prefix}{spec.name}")
    values = {name: _coerce(value, hints[name], origin, f"{prefix}{name}")
              for name, value in payload.items()}
    return cls(**values)


def load(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """``cls`` from an optional JSON/YAML file plus dotted overrides (see the module doc)."""
    origin = str(path) if path is not None else "defaults"
    payload = read_file(path) if path is not None else {}
    return from_dict(cls, apply_overrides(payload, overrides, cls), origin)


def to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON-serialisable data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _describe(kind: Any) -> str:
    """An annotation in words, for error messages."""
    if kind is Any:
        return "anything"
    args = typing.get_args(kind)
    origin_type = typing.get_origin(kind)
    if origin_type in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in args)
    if origin_type in (list, tuple):
        return f"a list of {_describe(args[0])}" if args else "a list"
    if origin_type is dict:
        return "a mapping"
    return getattr(kind, "__name__", str(kind))


def _parse_text(value: _Text, kind: Any) -> Any:
    """An override's text as JSON, unless the field takes text and the text is not null."""
    union = typing.get_origin(kind) in (typing.Union, types.UnionType)
    accepts_text = kind is str or (union and str in typing.get_args(kind))
    if accepts_text and value != "null":
        return str(value)
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return str(value)


def _coerce(value: Any, kind: Any, origin: str, key: str) -> Any:
    """Check ``value`` against annotation ``kind``; return it in the annotation's own type."""
    if isinstance(value, _Text):
        value = _parse_text(value, kind)
    if kind is Any:
        return value
    if _is_dataclass_type(kind):
        return from_dict(kind, value, origin, f"{key}.")
    origin_type, args = typing.get_origin(kind), typing.get_args(kind)
    if origin_type in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arm in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arm, origin, key)
            except ConfigError:
                continue
        raise ConfigError(f"{origin}: {key} must be {_describe(kind)}, got {value!r}")
    if origin_type in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{origin}: {key} must be a list, got {value!r}")
        if origin_type is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{origin}: {key} must hold {len(args)} values, got {value!r}")
            items = [_coerce(v, a, origin, key) for v, a in zip(value, args, strict=True)]
        else:
            items = [_coerce(v, args[0], origin, key) if args else v for v in value]
        return tuple(items) if origin_type is tuple else items
    if origin_type is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: {key} must be a mapping, got {value!r}")
        key_kind, value_kind = args or (Any, Any)
        return {_coerce(k, key_kind, origin, key): _coerce(v, value_kind, origin, f"{key}.{k}")
                for k, v in value.items()}
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{origin}: {key} must be {_describe(kind)}, got {value!r}")
