"""Losses (CLIP, SigLIP) and accumulation: K micro-batches == one big batch; 2 ranks == one
process scoring the concatenated global batch."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from rsvl.models import export_model, load_clip
from rsvl.training.launch import accelerate_command, launch_environment
from rsvl.training.loss import accumulated_backward, make_loss, prepare_model_for_loss

WORKER = Path(__file__).with_name("cross_rank_worker.py")


def _model_and_batch(kind: str = "clip") -> tuple[Any, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    loaded = load_clip("rsvl-micro", device="cpu")
    model = loaded.model.train()
    prepare_model_for_loss(model, kind)
    images = torch.randn(8, 3, 32, 32)
    texts = loaded.tokenizer([f"a satellite image of thing {i}" for i in range(8)])
    return model, images, texts


def _encode(model: Any) -> Any:
    def encode(images: torch.Tensor, texts: torch.Tensor) -> tuple[Any, ...]:
        output = model(images, texts)
        return output[0], output[1], output[2], output[3] if len(output) > 3 else None
    return encode


def _gradients(model: Any, micro: list[tuple[torch.Tensor, torch.Tensor]], kind: str = "clip"
               ) -> tuple[float, dict]:
    model.zero_grad(set_to_none=True)
    loss = accumulated_backward(_encode(model), micro, make_loss(0, 1, False, kind),
                                lambda x: x.backward())
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss, grads


def naive_siglip(images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor,
                 bias: torch.Tensor) -> torch.Tensor:
    """SigLIP's loss as the paper writes it: the full N x N matrix, +1 labels on the
    diagonal, -1 elsewhere, summed and divided by N."""
    logits = scale * images @ texts.T + bias
    labels = 2 * torch.eye(len(images)) - 1
    return -F.logsigmoid(labels * logits).sum() / len(images)


def test_loss_is_symmetric_cross_entropy() -> None:
    model, images, texts = _model_and_batch()
    image_features, text_features, scale = model(images, texts)[:3]
    logits = scale * image_features @ text_features.T
    labels = torch.arange(8)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    loss = make_loss(0, 1, False)(image_features, text_features, scale, None)
    assert torch.allclose(loss, expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_accumulated_micro_batches_give_the_big_batch_gradient(kind: str) -> None:
    model, images, texts = _model_and_batch(kind)
    full_loss, full = _gradients(model, [(images, texts)], kind)
    halves = [(images[:4], texts[:4]), (images[4:], texts[4:])]
    accum_loss, accumulated = _gradients(model, halves, kind)
    assert abs(full_loss - accum_loss) < 1e-5
    assert full.keys() == accumulated.keys() and "logit_scale" in full
    assert ("logit_bias" in full) == (kind == "siglip")
    for name in full:
        assert torch.allclose(full[name], accumulated[name], atol=1e-6, rtol=1e-4), name
    # Contrasting each micro-batch on its own (fewer negatives) is a different gradient.
    model.zero_grad(set_to_none=True)
    loss_fn = make_loss(0, 1, False, kind)
    for part_images, part_texts in halves:
        loss_fn(*_encode(model)(part_images, part_texts)).backward()
    separate = dict(model.named_parameters())["visual.proj"].grad
    assert not torch.allclose(separate, full["visual.proj"], atol=1e-6)


def test_accumulated_extra_terms_are_the_mean_of_each_micro_batch_term() -> None:
    """A per-micro-batch term (the region loss) joins the big batch's contrastive loss as the
    mean over micro-batches, the temperature's share included."""
    model, images, texts = _model_and_batch()

    def extra(image_features: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return scale * image_features[:, 0].square().mean()

    def with_extra(images: torch.Tensor, texts: torch.Tensor) -> tuple[Any, ...]:
        image_features, text_features, scale, bias = _encode(model)(images, texts)
        return image_features, text_features, scale, bias, extra(image_features, scale)

    model.zero_grad(set_to_none=True)
    image_features, text_features, scale, _ = _encode(model)(images, texts)
    expected = make_loss(0, 1, False)(image_features, text_features, scale) + (
        extra(image_features[:4], scale) + extra(image_features[4:], scale)) / 2
    expected.backward()
    full = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    halves = [(images[:4], texts[:4]), (images[4:], texts[4:])]
    loss = accumulated_backward(with_extra, halves, make_loss(0, 1, False),
                                lambda x: x.backward())
    assert loss == pytest.approx(float(expected), abs=1e-5)
    for name, parameter in model.named_parameters():
        assert torch.allclose(full[name], parameter.grad, atol=1e-6, rtol=1e-4), name


def test_siglip_equals_the_naive_full_matrix_loss() -> None:
    model, images, texts = _model_and_batch("siglip")
    image_features, text_features, scale, bias = model(images, texts)
    assert float(scale) == pytest.approx(10.0) and float(bias) == -10.0  # SigLIP's init
    loss = make_loss(0, 1, False, "siglip")(image_features, text_features, scale, bias)
    expected = naive_siglip(image_features, text_features, scale, bias)
    assert abs(float(loss) - float(expected)) < 1e-6
    grads = torch.autograd.grad(loss, [scale, bias], retain_graph=True)
    expected_grads = torch.autograd.grad(expected, [scale, bias])
    for got, want in zip(grads, expected_grads, strict=True):
        assert torch.allclose(got, want, atol=1e-6)


def test_siglip_model_exports_its_bias_and_temperature(tmp_path: Path) -> None:
    model, images, texts = _model_and_batch("siglip")
    with torch.no_grad():
        model.logit_bias.fill_(-7.5)
        model.logit_scale.fill_(math.log(12.0))
    export = export_model(model, "rsvl-micro", tmp_path / "export")
    reloaded = load_clip(str(export), device="cpu").model
    assert float(reloaded.logit_bias) == -7.5
    assert float(reloaded.logit_scale.exp()) == pytest.approx(12.0)
    # A model that already has a bias (a SigLIP checkpoint, a resumed run) keeps it.
    prepare_model_for_loss(reloaded, "siglip")
    assert float(reloaded.logit_bias) == -7.5
    with torch.no_grad():
        model.eval()
        assert torch.allclose(model(images, texts)[0], reloaded(images, texts)[0], atol=1e-6)


@pytest.mark.slow
def test_two_ranks_score_the_concatenated_global_batch(tmp_path: Path) -> None:
    out = tmp_path / "cross"
    command = accelerate_command(2, None, [], cpu=True, program=[str(WORKER), str(out)])
    result = subprocess.run(command, env=launch_environment(cpu=True), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads(Path(f"{out}.rank{r}.json").read_text()) for r in (0, 1)]
    assert [r.pop("world") for r in ranks] == [2, 2]
    assert ranks[0].keys() == ranks[1].keys() and len(ranks[0]) == 6
    for name, case in ranks[0].items():
        other = ranks[1][name]  # every rank logs the same global value and gradients
        assert (case["loss"], case["max_grad_diff"]) == (other["loss"], other["max_grad_diff"])
        assert abs(case["loss"] - case["expected"]) < 1e-6, name
        assert abs(case["own_batch_only"] - case["expected"]) > 1e-2, name  # negatives span
        assert case["same_parameters"], name
        # fp32 summation order differs between the split and the whole batch: 1e-5 relative
        assert case["max_grad_diff"] < 1e-5 * max(1.0, case["max_grad"]), name
