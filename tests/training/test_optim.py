"""Schedule values worked out by hand, weight-decay groups, freezing options."""

from __future__ import annotations

import math

import pytest

from rsvl.errors import ConfigError
from rsvl.models import load_clip
from rsvl.training.config import ModelConfig
from rsvl.training.optim import apply_model_options, decays, lr_at, param_groups


def test_warmup_then_cosine_by_hand() -> None:
    # warm-up of 4 steps to 1.0, cosine to 0 over the 8 remaining steps of 12
    assert lr_at(0, 1.0, 4, 12) == pytest.approx(0.25)
    assert lr_at(3, 1.0, 4, 12) == pytest.approx(1.0)
    assert lr_at(4, 1.0, 4, 12) == pytest.approx(1.0)
    assert lr_at(8, 1.0, 4, 12) == pytest.approx(0.5)  # half-way: (1 + cos(pi/2)) / 2
    assert lr_at(6, 1.0, 4, 12) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    assert lr_at(12, 1.0, 4, 12) == pytest.approx(0.0)
    assert lr_at(50, 1.0, 4, 12, min_lr=0.1) == pytest.approx(0.1)
    assert lr_at(0, 2.0, 0, 10) == pytest.approx(2.0)


def test_no_decay_on_biases_norms_embeddings_and_temperature() -> None:
    model = load_clip("rsvl-micro", device="cpu").model
    names = {n for n, p in model.named_parameters() if not decays(n, p)}
    for expected in ("logit_scale", "token_embedding.weight", "positional_embedding",
                     "visual.class_embedding", "visual.ln_pre.weight", "ln_final.bias"):
        assert expected in names
    weight = "visual.transformer.resblocks.0.mlp.c_fc.weight"
    assert decays(weight, dict(model.named_parameters())[weight])
    decayed, undecayed = param_groups(model, 0.2)
    assert decayed["weight_decay"] == 0.2 and undecayed["weight_decay"] == 0.0
    assert len(decayed["params"]) + len(undecayed["params"]) == len(list(model.parameters()))


def test_lock_text_and_first_image_blocks() -> None:
    model = load_clip("rsvl-micro", device="cpu").model
    apply_model_options(model, ModelConfig(lock_text=True, lock_image_blocks=1))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "token_embedding.weight" not in trainable
    assert "visual.conv1.weight" not in trainable
    assert not any(n.startswith("visual.transformer.resblocks.0.") for n in trainable)
    assert any(n.startswith("visual.transformer.resblocks.1.") for n in trainable)
    assert "visual.proj" in trainable
    with pytest.raises(ConfigError, match="has 2 blocks"):
        apply_model_options(model, ModelConfig(lock_image_blocks=5))
