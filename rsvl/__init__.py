"""rsvl: remote-sensing vision-language models.

Build OpenStreetMap caption datasets over georeferenced imagery, continually pretrain
open_clip models with Accelerate, evaluate them reproducibly, and use them from Python.

Heavy submodules are imported lazily so that ``import rsvl`` (which the interpreter-start
torchvision remedy triggers) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module that defines it; resolved on first attribute access (PEP 562).
_LAZY_EXPORTS: dict[str, str] = {
    "load_model": "rsvl.api",
    "ImageIndex": "rsvl.api",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rsvl' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY_EXPORTS])
