"""Hypothesis strategies that mutate real input files: bytes and JSON structure.

``byte_mutations(seed)`` applies 1-4 edits to the seed's bytes (bit flips, truncation,
insertion of random or syntax-laden bytes, deletion, a chunk copied elsewhere);
``json_mutations(document)`` applies 1-3 edits to a parsed JSON document (a value replaced by
another of any type, a key or list item deleted, an item duplicated, a container emptied).

CI runs ``FUZZ_EXAMPLES`` (60) inputs per reader, derandomized (the same inputs every run);
``RSVL_FUZZ_EXAMPLES=2000`` runs more by hand, ``RSVL_FUZZ_REPORT=FILE`` records the counts.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

FUZZ_EXAMPLES = int(os.environ.get("RSVL_FUZZ_EXAMPLES", "60"))
# RSVL_FUZZ_NO_SHRINK=1 reports the first failure as found (faster when hunting many bugs).
PHASES = [p for p in Phase if p != Phase.shrink or not os.environ.get("RSVL_FUZZ_NO_SHRINK")]
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                phases=PHASES, report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

# Bytes that change what a parser sees: markup, quotes, escapes, invalid UTF-8, numbers.
SYNTAX = [b"<", b">", b"</", b"/>", b'"', b"'", b"&", b"&#0;", b"\x00", b"\xff\xfe", b"\xc3",
          b"{", b"}", b"[", b"]", b",", b":", b"\\", b"\\u", b"\n", b"\r", b"-1", b"1e999",
          b"NaN", b"null", b"nan", b"inf", b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
          b"<node id='1' lat='91' lon='181'/>", b"<nd ref='-1'/>", b"<tag k='' v=''/>"]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6)

CALLS: Counter[str] = Counter()  # fuzzed inputs per reader, this session


@st.composite
def byte_mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """The seed's bytes after 1-4 random edits."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "copy"]))
        position = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            data[min(position, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[position:]
        elif kind == "insert":
            inserted = st.sampled_from(SYNTAX) | st.binary(min_size=1, max_size=16)
            data[position:position] = draw(inserted)
        elif kind == "delete":
            del data[position:position + draw(st.integers(1, 64))]
        elif kind == "copy" and data:
            start = draw(st.integers(0, len(data) - 1))
            data[position:position] = data[start:start + draw(st.integers(1, 256))]
    return bytes(data)


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of a JSON document, depth first."""
    found: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list) else ()
    for key, child in items:
        found.append((node, key))
        found.extend(_slots(child))
    return found


@st.composite
def json_mutations(draw: st.DrawFn, document: Any) -> Any:
    """A deep copy of a parsed JSON document after 1-3 structural edits."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(document)
        if not slots:
            return draw(JSON_VALUES)
        container, key = draw(st.sampled_from(slots))
        kind = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "empty"]))
        if kind == "replace":
            container[key] = draw(JSON_VALUES)
        elif kind == "delete":
            del container[key]
        elif kind == "duplicate" and isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
        elif kind == "duplicate":
            container[f"{key}_"] = copy.deepcopy(container[key])
        elif isinstance(container[key], (list, dict)):
            container[key] = type(container[key])()
        else:
            container[key] = None
    return document


def json_bytes(document: Any) -> bytes:
    """Serialised as a writer might (NaN and Infinity tokens included)."""
    return json.dumps(document).encode()


def report(reader: str, inputs: int) -> None:
    """Record how many inputs ``reader`` was fuzzed with, in RSVL_FUZZ_REPORT when set."""
    CALLS[reader] += inputs
    if name := os.environ.get("RSVL_FUZZ_REPORT"):
        path = Path(name)
        counts = json.loads(path.read_text()) if path.is_file() else {}
        counts[reader] = CALLS[reader]
        path.write_text(json.dumps(counts, indent=1, sort_keys=True))
