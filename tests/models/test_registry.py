"""Architectures registered from JSON."""

from __future__ import annotations

import pytest

from rsvl.errors import ConfigError
from rsvl.models import get_architecture, list_architectures


def test_tiny_architectures_are_registered_with_open_clip() -> None:
    import open_clip

    assert {"rsvl-tiny", "rsvl-micro"} <= set(list_architectures())
    assert open_clip.get_model_config("rsvl-tiny")["vision_cfg"]["image_size"] == 64
    assert "ViT-B-32" in list_architectures()


def test_unknown_architecture_is_one_clear_line() -> None:
    with pytest.raises(ConfigError, match="unknown architecture 'ViT-Z-99'") as info:
        get_architecture("ViT-Z-99")
    assert "\n" not in str(info.value)
