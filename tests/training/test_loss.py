"""Contrastive loss and the accumulation semantics: K micro-batches == one big batch."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from rsvl.models import load_clip
from rsvl.training.loss import accumulated_backward, make_loss


def _model_and_batch() -> tuple[Any, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    loaded = load_clip("rsvl-micro", device="cpu")
    model = loaded.model.train()
    images = torch.randn(8, 3, 32, 32)
    texts = loaded.tokenizer([f"a satellite image of thing {i}" for i in range(8)])
    return model, images, texts


def _gradients(model: Any, micro: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, dict]:
    model.zero_grad(set_to_none=True)
    loss = accumulated_backward(
        lambda i, t: model(i, t)[:3], micro, make_loss(0, 1, False), lambda x: x.backward()
    )
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss, grads


def test_loss_is_symmetric_cross_entropy() -> None:
    model, images, texts = _model_and_batch()
    image_features, text_features, scale = model(images, texts)[:3]
    logits = scale * image_features @ text_features.T
    labels = torch.arange(8)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    loss = make_loss(0, 1, False)(image_features, text_features, scale)
    assert torch.allclose(loss, expected, atol=1e-6)


def test_accumulated_micro_batches_give_the_big_batch_gradient() -> None:
    model, images, texts = _model_and_batch()
    full_loss, full = _gradients(model, [(images, texts)])
    halves = [(images[:4], texts[:4]), (images[4:], texts[4:])]
    accum_loss, accumulated = _gradients(model, halves)
    assert abs(full_loss - accum_loss) < 1e-5
    assert full.keys() == accumulated.keys() and "logit_scale" in full
    for name in full:
        assert torch.allclose(full[name], accumulated[name], atol=1e-6, rtol=1e-4), name
    # Contrasting each micro-batch on its own (fewer negatives) is a different gradient.
    model.zero_grad(set_to_none=True)
    loss_fn = make_loss(0, 1, False)
    for part_images, part_texts in halves:
        loss_fn(*model(part_images, part_texts)[:3]).backward()
    separate = dict(model.named_parameters())["visual.proj"].grad
    assert not torch.allclose(separate, full["visual.proj"], atol=1e-6)
