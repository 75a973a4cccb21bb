"""Which samples of a dataset a training run must not see: the keys de-duplication removed.

``rsvl build dedup`` writes ``removed.json`` next to a training set's shards; every training
reader consults :func:`read_removed` so that evaluation images found in a training set stay out.
"""

from __future__ import annotations

from pathlib import Path

from rsvl.data.atomic import read_json
from rsvl.errors import InputError

REMOVED_FILE = "removed.json"


def read_removed(root: str | Path) -> set[str]:
    """Keys listed in a dataset's ``removed.json`` (empty when de-duplication never ran)."""
    removed_path = Path(root) / REMOVED_FILE
    if not removed_path.is_file():
        return set()
    try:
        removed = read_json(removed_path)["removed"]
    except (InputError, KeyError, TypeError):
        raise InputError(
            f"{removed_path} is malformed; rerun rsvl build dedup to rewrite it"
        ) from None
    return set(removed)
