"""Symmetric contrastive loss over features gathered from every rank, and accumulation.

Negatives span all ranks: each rank's features are all-gathered *with gradients* (open_clip's
``ClipLoss(gather_with_grad=True)``), every rank computes the loss of the full global batch, and
the gathered copies route each rank's share of the gradient back to the rank that computed
those features; DDP's gradient averaging then yields exactly the single-process gradient.

Gradient accumulation (``optim.accum_steps = K``) keeps the contrastive batch equal to the
whole accumulated batch (GradCache, as open_clip's ``--accum-freq``): one pass without
gradients caches the features of all K micro-batches; then each micro-batch is re-encoded with
gradients and scored against the cached features of the others. The K backward passes sum to
the gradient of one big batch of K x batch_size x world_size pairs, at the cost of one extra
forward pass. The temperature is differentiated in the last pass only, so its gradient is not
counted K times (open_clip counts it K times).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from open_clip.loss import ClipLoss


def make_loss(rank: int, world_size: int, local_loss: bool) -> ClipLoss:
    """The symmetric InfoNCE loss, gathering features with gradients across ranks."""
    # open_clip gathers with torch.distributed.nn.all_gather, which torch 2.13 deprecates with a
    # FutureWarning from every rank; the gather is correct (tested), so the warning is noise.
    warnings.filterwarnings("ignore", message=r"torch\.distributed\.nn\.functional\.all_gather",
                            category=FutureWarning)
    return ClipLoss(
        local_loss=local_loss, gather_with_grad=True, cache_labels=True,
        rank=rank, world_size=world_size,
    )


def accumulated_backward(
    model: Any,
    micro_batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    backward: Callable[[torch.Tensor], None],
    no_sync: Callable[[], AbstractContextManager[Any]] = nullcontext,
    autocast: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> float:
    """Backpropagate the contrastive loss of all ``micro_batches`` taken as one batch.

    Args:
        model: Callable ``(images, texts) -> (image_features, text_features, logit_scale)``.
        micro_batches: (images, token ids) pairs.
        loss_fn: ``(image_features, text_features, logit_scale) -> loss``.
        backward: Called on each loss (``accelerator.backward``).
        no_sync: Context suspending DDP's gradient all-reduce for all but the last backward.
        autocast: Mixed-precision context for forward passes.

    Returns:
        The loss value of the whole accumulated batch.
    """
    if len(micro_batches) == 1:
        images, texts = micro_batches[0]
        with autocast():
            image_features, text_features, scale = model(images, texts)
            loss = loss_fn(image_features, text_features, scale)
        backward(loss)
        return float(loss.detach())
    with torch.no_grad(), autocast():
        cached = [model(images, texts)[:2] for images, texts in micro_batches]
    last = len(micro_batches) - 1
    loss = torch.zeros(())
    for index, (images, texts) in enumerate(micro_batches):
        with no_sync() if index < last else nullcontext():
            with autocast():
                image_features, text_features, scale = model(images, texts)
                all_images = torch.cat(
                    [image_features if i == index else c[0] for i, c in enumerate(cached)]
                )
                all_texts = torch.cat(
                    [text_features if i == index else c[1] for i, c in enumerate(cached)]
                )
                # The temperature gets its gradient once, in the synchronised last pass (DDP
                # must see every parameter used there).
                loss = loss_fn(all_images, all_texts, scale if index == last else scale.detach())
            backward(loss)
    return float(loss.detach())
