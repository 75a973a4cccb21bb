"""Model specs and loading: scratch, local checkpoints (validated), exports, offline tags."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rsvl.errors import ConfigError, InputError
from rsvl.models import load_clip, parse_model_spec


def test_parse_every_spec_form(tmp_path: Path) -> None:
    checkpoint = tmp_path / "weights.pt"
    checkpoint.write_bytes(b"")
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "open_clip_config.json").write_text("{}")
    assert parse_model_spec("rsvl-tiny").kind == "scratch"
    assert parse_model_spec("ViT-B-32:laion2b_s34b_b79k").kind == "pretrained_tag"
    assert parse_model_spec(f"rsvl-tiny:{checkpoint}").kind == "checkpoint"
    assert parse_model_spec(str(tmp_path / "export")).kind == "export"
    hub = parse_model_spec("hf-hub:org/model")
    assert (hub.kind, hub.source, str(hub)) == ("hf_hub", "org/model", "hf-hub:org/model")


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("", ConfigError, "empty model spec"),
        ("no-such-arch", ConfigError, "unknown architecture"),
        ("rsvl-tiny:/nowhere/model.pt", InputError, "checkpoint not found"),
        ("/nowhere/export", InputError, "not found"),
    ],
)
def test_bad_specs(spec: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_model_spec(spec)


def test_scratch_model_encodes_and_is_hashed() -> None:
    loaded = load_clip("rsvl-micro", device="cpu")
    tokens = loaded.tokenizer(["a satellite image of farmland"])
    assert tokens.shape == (1, 16)
    with torch.no_grad():
        features = loaded.model.encode_text(tokens)
    assert features.shape == (1, 32)
    assert len(loaded.checksum) == 64
    assert loaded.preprocess_cfg["size"] in (32, (32, 32))


def test_local_checkpoint_round_trip_and_architecture_mismatch(tmp_path: Path) -> None:
    source = load_clip("rsvl-micro", device="cpu")
    path = tmp_path / "micro.pt"
    torch.save({"state_dict": source.model.state_dict()}, path)
    again = load_clip(f"rsvl-micro:{path}", device="cpu")
    assert again.checksum == source.checksum
    with pytest.raises(InputError, match="does not fit architecture rsvl-tiny"):
        load_clip(f"rsvl-tiny:{path}", device="cpu")


def test_corrupt_checkpoint_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="broken.safetensors"):
        load_clip(f"rsvl-micro:{path}", device="cpu")


def test_pretrained_tag_offline_explains_network_need() -> None:
    with pytest.raises(InputError, match="needs network access"):
        load_clip("rsvl-micro:some_tag", device="cpu")


def test_scratch_initialisation_is_seeded_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = load_clip("rsvl-micro", device="cpu")
    assert torch.equal(torch.rand(1), expected_next)
    assert load_clip("rsvl-micro", device="cpu").checksum == first.checksum
    assert load_clip("rsvl-micro", device="cpu", seed=1).checksum != first.checksum


def test_no_misleading_random_init_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        load_clip("rsvl-micro", device="cpu")
    assert not [r for r in caplog.records if "No pretrained weights" in r.getMessage()]


def test_rsvl_architecture_takes_a_context_of_248() -> None:
    loaded = load_clip("rsvl-micro", device="cpu", context_length=248)
    assert loaded.model.context_length == 248  # the architecture's own is 16
    caption = " ".join(["building"] * 198)  # start + 198 words + end = 200 tokens
    tokens = loaded.tokenizer([caption])
    assert tokens.shape == (1, 248) and int((tokens != 0).sum()) == 200  # nothing cut
    assert loaded.model.encode_text(tokens).shape == (1, 32)
    assert load_clip("rsvl-micro", device="cpu").model.context_length == 16  # registry intact


def test_context_length_beyond_the_tower_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="takes at most 248 text tokens"):
        load_clip("rsvl-micro", device="cpu", context_length=249)
    # A pretrained tower keeps its own: refused before any download.
    with pytest.raises(ConfigError, match="ViT-B-32:openai takes at most 77 tokens") as error:
        load_clip("ViT-B-32:openai", device="cpu", context_length=248)
    assert "\n" not in str(error.value)
    from rsvl.models import export_model

    export = export_model(load_clip("rsvl-micro", device="cpu").model, "rsvl-micro",
                          tmp_path / "micro")
    with pytest.raises(ConfigError, match="takes at most 16 tokens"):
        load_clip(str(export), device="cpu", context_length=77)
    assert load_clip(str(export), device="cpu", context_length=16).model.context_length == 16
