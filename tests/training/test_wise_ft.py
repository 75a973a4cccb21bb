"""WiSE-FT: exact endpoints, the midpoint, refusal of mismatched models and of an initial
model that is not the trained run's recorded parent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rsvl.cli import main as cli_main
from rsvl.errors import InputError
from rsvl.models import export_model, load_clip, read_export_info
from rsvl.training.wise_ft import interpolate_state

WEIGHTS = "open_clip_model.safetensors"


def _export(arch: str, seed: int, out: Path, provenance: dict[str, str] | None = None) -> Path:
    """A scratch model nudged by seeded noise (scratch inits are identical on every call)."""
    model = load_clip(arch, device="cpu").model
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.01 * torch.randn(param.shape, generator=generator))
    return export_model(model, arch, out, provenance)


def test_endpoints_are_exact_and_midpoint_is_the_mean(tmp_path: Path) -> None:
    initial = _export("rsvl-micro", 0, tmp_path / "a")
    trained = _export("rsvl-micro", 1, tmp_path / "b")
    for alpha in ("0", "1", "0.5"):
        assert cli_main(["train", "wise-ft", "--initial", str(initial), "--trained", str(trained),
                         "--alpha", alpha, "--out", str(tmp_path / alpha)]) == 0
    start, end = load_file(initial / WEIGHTS), load_file(trained / WEIGHTS)
    at_zero, at_one = load_file(tmp_path / "0" / WEIGHTS), load_file(tmp_path / "1" / WEIGHTS)
    middle = load_file(tmp_path / "0.5" / WEIGHTS)
    assert all(torch.equal(at_zero[k], start[k]) for k in start)
    assert all(torch.equal(at_one[k], end[k]) for k in end)
    assert not torch.equal(start["visual.proj"], end["visual.proj"])
    assert torch.allclose(middle["visual.proj"], (start["visual.proj"] + end["visual.proj"]) / 2)


def test_models_of_different_architectures_are_refused() -> None:
    micro = load_clip("rsvl-micro", device="cpu").model.state_dict()
    tiny = load_clip("rsvl-tiny", device="cpu").model.state_dict()
    with pytest.raises(InputError, match="different parameters"):
        interpolate_state(micro, tiny, 0.5)
    with pytest.raises(InputError, match="visual.proj has shape"):
        interpolate_state(micro, {**micro, "visual.proj": torch.zeros(3, 3)}, 0.5)


def test_an_initial_that_is_not_the_recorded_parent_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parent = _export("rsvl-micro", 0, tmp_path / "parent")
    other = _export("rsvl-micro", 2, tmp_path / "other")
    parent_sha = load_clip(str(parent), device="cpu").checksum
    trained = _export("rsvl-micro", 1, tmp_path / "trained",
                      {"parent": str(parent), "parent_sha256": parent_sha})
    args = ["train", "wise-ft", "--trained", str(trained), "--alpha", "0.5"]
    assert cli_main([*args, "--initial", str(other), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not the model" in err
    assert f"parent_sha256 {parent_sha[:12]}" in err and "--allow-other-initial" in err
    assert not (tmp_path / "x").exists()
    assert cli_main([*args, "--initial", str(parent), "--out", str(tmp_path / "ok")]) == 0
    info = read_export_info(tmp_path / "ok")["provenance"]
    assert info["initial_check"] == "matches the trained model's parent_sha256"
    assert cli_main([*args, "--initial", str(other), "--out", str(tmp_path / "forced"),
                     "--allow-other-initial"]) == 0
    forced = read_export_info(tmp_path / "forced")["provenance"]["initial_check"]
    assert forced.startswith("other initial allowed")
