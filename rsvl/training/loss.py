"""Contrastive losses over features of every rank (CLIP's softmax, SigLIP's sigmoid), and
accumulation.

``loss.kind=clip`` (symmetric InfoNCE): each rank's features are all-gathered *with gradients*
(open_clip's ``ClipLoss(gather_with_grad=True)``), every rank scores the full global batch (or,
with ``local_loss``, only its own rows against every column), and the gathered copies route
each rank's share of the gradient back to the rank that computed those features; DDP's gradient
averaging then yields exactly the single-process gradient of the concatenated global batch.

``loss.kind=siglip`` (sigmoid loss, Zhai et al. 2023): every image-text pair is an independent
binary decision ``sigmoid(t * <i, x> + b)`` with a learnable temperature ``t = exp(t')`` and
bias ``b`` (SigLIP's init ``t' = log 10``, ``b = -10``). Nothing ``N x N`` is ever gathered: the
text features travel round the ring of ranks (each rank sends its current block to the right
neighbour and receives the left one's, ``world - 1`` times, gradients flowing back the same
way), and each rank scores its own images against every block as it passes. The mean over
ranks of the per-rank losses is the loss of the global batch.

Gradient accumulation (``optim.accum_steps = K``) keeps the contrastive batch equal to the
whole accumulated batch (GradCache, as open_clip's ``--accum-freq``): one pass without
gradients caches the features of all K micro-batches; then each micro-batch is re-encoded with
gradients and scored against the cached features of the others. The K backward passes sum to
the gradient of one big batch of K x batch_size x world_size pairs, at the cost of one extra
forward pass. Temperature and bias are differentiated in the last pass only, so their gradient
is not counted K times (open_clip counts it K times).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

# (image_features, text_features, logit_scale, logit_bias or None) -> scalar loss
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
LOSS_KINDS = ("clip", "siglip")
SIGLIP_INIT_LOGIT_SCALE = math.log(10.0)
SIGLIP_INIT_LOGIT_BIAS = -10.0


def make_loss(rank: int, world_size: int, local_loss: bool, kind: str = "clip") -> LossFn:
    """The training loss of ``kind`` (``clip`` or ``siglip``) for one rank of ``world_size``.

    Args:
        rank: This process's rank.
        world_size: Number of ranks whose features form the global batch.
        local_loss: CLIP only: score this rank's rows against all columns (same gradients,
            less memory); the loss value is then this rank's share (average it over ranks).
        kind: ``clip`` (softmax InfoNCE) or ``siglip`` (sigmoid, ring exchange of texts).

    Returns:
        ``(image_features, text_features, logit_scale, logit_bias) -> loss``.
    """
    if kind == "siglip":
        return SigmoidLoss(rank, world_size)
    if kind != "clip":
        raise ValueError(f"unknown loss kind {kind!r}; expected one of {list(LOSS_KINDS)}")
    # open_clip gathers with torch.distributed.nn.all_gather, which torch 2.13 deprecates with a
    # FutureWarning from every rank; the gather is correct (tested), so the warning is noise.
    warnings.filterwarnings("ignore", message=r"torch\.distributed\.nn\.functional\.all_gather",
                            category=FutureWarning)
    clip = ClipLoss(
        local_loss=local_loss, gather_with_grad=True, cache_labels=True,
        rank=rank, world_size=world_size,
    )

    def clip_loss(images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor,
                  bias: torch.Tensor | None = None) -> torch.Tensor:
        return clip(images, texts, scale)

    return clip_loss


def prepare_model_for_loss(model: Any, kind: str) -> None:
    """Give a model what ``kind`` learns: SigLIP needs a bias, so a model without one gets
    ``b = -10`` and its temperature reset to ``t' = log 10`` (SigLIP's init). A model that
    already has a bias (a SigLIP checkpoint, a resumed run) is left as it is."""
    if kind != "siglip" or getattr(model, "logit_bias", None) is not None:
        return
    scale = model.logit_scale
    model.logit_bias = torch.nn.Parameter(torch.full_like(scale.data, SIGLIP_INIT_LOGIT_BIAS))
    with torch.no_grad():
        scale.fill_(SIGLIP_INIT_LOGIT_SCALE)


def sigmoid_pairs(images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor,
                  bias: torch.Tensor | None, matched: bool) -> torch.Tensor:
    """Summed sigmoid loss of every (image, text) pair of two blocks; ``matched`` blocks hold
    the positives on their diagonal, other blocks only negatives."""
    logits = scale * images @ texts.T
    if bias is not None:
        logits = logits + bias
    signs = -torch.ones_like(logits)
    if matched:
        signs = signs + 2 * torch.eye(logits.shape[0], dtype=logits.dtype, device=logits.device)
    return -F.logsigmoid(signs * logits).sum()


class SigmoidLoss:
    """SigLIP's loss for one rank: its images against its own and every other rank's texts,
    the text blocks passed round the ring of ranks; divided by the local batch size."""

    def __init__(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size

    def __call__(self, images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor,
                 bias: torch.Tensor | None = None) -> torch.Tensor:
        loss = sigmoid_pairs(images, texts, scale, bias, matched=True)
        block = texts
        for _ in range(self.world_size - 1):
            block = _RingShift.apply(block, self.rank, self.world_size)
            loss = loss + sigmoid_pairs(images, block, scale, bias, matched=False)
        return loss / images.shape[0]


def _ring_exchange(tensor: torch.Tensor, send_to: int, receive_from: int) -> torch.Tensor:
    import torch.distributed as dist

    received = torch.empty_like(tensor)
    requests = dist.batch_isend_irecv([
        dist.P2POp(dist.isend, tensor.contiguous(), send_to),
        dist.P2POp(dist.irecv, received, receive_from),
    ])
    for request in requests:
        request.wait()
    return received


class _RingShift(torch.autograd.Function):
    """Send a block to the right neighbour and receive the left one's; gradients go back the
    other way (the block's gradient returns to the rank that computed it)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
        ctx.rank, ctx.world_size = rank, world_size
        return _ring_exchange(tensor, (rank + 1) % world_size, (rank - 1) % world_size)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        rank, world = ctx.rank, ctx.world_size
        return _ring_exchange(grad, (rank - 1) % world, (rank + 1) % world), None, None


def accumulated_backward(
    model: Any,
    micro_batches: Sequence[tuple[Any, ...]],
    loss_fn: LossFn,
    backward: Callable[[torch.Tensor], None],
    no_sync: Callable[[], AbstractContextManager[Any]] = nullcontext,
    autocast: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> float:
    """Backpropagate the contrastive loss of all ``micro_batches`` taken as one batch.

    Args:
        model: Callable ``(*micro_batch) -> (image_features, text_features, logit_scale,
            logit_bias or None[, extra])``; ``extra``, when given, is a loss term of that
            micro-batch alone (the region loss), added as the mean over micro-batches.
        micro_batches: (images, token ids, ...) tuples, passed to ``model`` as its arguments.
        loss_fn: ``(image_features, text_features, logit_scale, logit_bias) -> loss``.
        backward: Called on each loss (``accelerator.backward``).
        no_sync: Context suspending DDP's gradient all-reduce for all but the last backward.
        autocast: Mixed-precision context for forward passes.

    Returns:
        This rank's loss value of the whole accumulated batch (extra terms included).
    """
    if len(micro_batches) == 1:
        with autocast():
            image_features, text_features, scale, bias, extra = _forward(model, micro_batches[0])
            loss = loss_fn(image_features, text_features, scale, bias) + extra
        backward(loss)
        return float(loss.detach())
    with torch.no_grad(), autocast():
        cached = [_forward(model, batch)[:2] for batch in micro_batches]
    last = len(micro_batches) - 1
    contrastive, extras = torch.zeros(()), 0.0
    for index, batch in enumerate(micro_batches):
        with no_sync() if index < last else nullcontext():
            with autocast():
                image_features, text_features, scale, bias, extra = _forward(model, batch)
                all_images = torch.cat(
                    [image_features if i == index else c[0] for i, c in enumerate(cached)]
                )
                all_texts = torch.cat(
                    [text_features if i == index else c[1] for i, c in enumerate(cached)]
                )
                # Temperature and bias get their gradient once, in the synchronised last pass
                # (DDP must see every parameter used there); a micro-batch's own extra term
                # keeps its gradient in every pass (no_sync accumulates it locally).
                if index != last:
                    scale = scale.detach()
                    bias = bias.detach() if bias is not None else None
                contrastive = loss_fn(all_images, all_texts, scale, bias)
                extra = extra / len(micro_batches)
            backward(contrastive + extra)
            extras += float(extra.detach())
    return float(contrastive.detach()) + extras


def _forward(model: Any, batch: tuple[Any, ...]) -> tuple[Any, Any, Any, Any, torch.Tensor]:
    """The model's outputs for one micro-batch with its extra loss term (0 when it has none)."""
    image_features, text_features, scale, bias, *extra = model(*batch)
    return (image_features, text_features, scale, bias,
            extra[0] if extra else torch.zeros((), device=image_features.device))
