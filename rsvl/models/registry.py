"""Architectures: open_clip's own plus rsvl's tiny ones, registered from JSON files.

``arch_configs/*.json`` are open_clip model configs whose file stem is the architecture name;
they are added to open_clip's registry once, so ``open_clip.create_model_and_transforms``
accepts them too.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from rsvl.errors import ConfigError

ARCH_CONFIG_DIR = Path(__file__).parent / "arch_configs"


@functools.cache
def register_architectures() -> None:
    """Add rsvl's architecture configs to open_clip's registry (idempotent)."""
    import open_clip

    open_clip.add_model_config(ARCH_CONFIG_DIR)


def list_architectures() -> list[str]:
    """Every architecture name open_clip and rsvl know."""
    import open_clip

    register_architectures()
    return list(open_clip.list_models())


def get_architecture(name: str) -> dict[str, Any]:
    """The open_clip model config of architecture ``name``."""
    import open_clip

    register_architectures()
    config = open_clip.get_model_config(name)
    if config is None:
        known = ", ".join(n for n in list_architectures() if n.startswith("rsvl-"))
        raise ConfigError(
            f"unknown architecture {name!r}; rsvl's tiny ones: {known}; "
            "see `python -c 'import open_clip; print(open_clip.list_models())'` for the rest"
        )
    return dict(config)
