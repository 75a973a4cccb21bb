"""Exports load back in rsvl and in open_clip itself."""

from __future__ import annotations

from pathlib import Path

import open_clip
import torch

from rsvl.models import export_model, load_clip, read_export_info


def test_export_loads_in_rsvl_and_open_clip(tmp_path: Path) -> None:
    source = load_clip("rsvl-micro", device="cpu")
    out = export_model(source.model, "rsvl-micro", tmp_path / "export", {"note": "test"})
    info = read_export_info(out)
    assert info["arch"] == "rsvl-micro" and info["sha256"] == source.checksum
    assert sorted(p.name for p in out.iterdir()) == [
        "open_clip_config.json",
        "open_clip_model.safetensors",
        "rsvl_model.json",
    ]
    assert load_clip(str(out), device="cpu").checksum == source.checksum
    model, _, preprocess = open_clip.create_model_and_transforms(
        "rsvl-micro", pretrained=str(out / "open_clip_model.safetensors")
    )
    for name, tensor in source.model.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name
    local, _, _ = open_clip.create_model_and_transforms(f"local-dir:{out}")
    assert torch.equal(local.logit_scale, source.model.logit_scale)


def test_export_replaces_atomically(tmp_path: Path) -> None:
    model = load_clip("rsvl-micro", device="cpu").model
    out = tmp_path / "export"
    export_model(model, "rsvl-micro", out)
    export_model(model, "rsvl-micro", out)
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
