"""Optimiser, learning-rate schedule and freezing options.

Weight decay applies to weight matrices only: biases, norm gains, embeddings (token, positional,
class) and the temperature are excluded, as in CLIP and open_clip, because decaying them pulls
scales and offsets towards zero rather than regularising.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from rsvl.errors import ConfigError
from rsvl.training.config import ModelConfig, OptimConfig

_NO_DECAY_NAME_PARTS = ("bias", "ln", "bn", "norm", "embedding", "logit_scale", "logit_bias")


def lr_at(
    step: int, base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0
) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warm-up, then cosine decay.

    During warm-up the rate rises linearly to ``base_lr`` at step ``warmup_steps - 1``; then it
    follows half a cosine from ``base_lr`` down to ``min_lr`` at step ``total_steps``.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (base_lr - min_lr)


def decays(name: str, param: torch.Tensor) -> bool:
    """Whether parameter ``name`` receives weight decay (weight matrices only)."""
    return param.ndim >= 2 and not any(part in name for part in _NO_DECAY_NAME_PARTS)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups over the trainable parameters: decayed and not decayed."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [
        {"params": [p for n, p in named if decays(n, p)], "weight_decay": weight_decay},
        {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0},
    ]


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` with the configured betas and epsilon."""
    beta1, beta2 = cfg.betas
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(beta1, beta2), eps=cfg.eps
    )


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def apply_model_options(model: Any, cfg: ModelConfig) -> None:
    """Freeze towers/blocks and switch gradient checkpointing on, as configured."""
    if cfg.lock_text:
        model.lock_text_tower()
    if cfg.lock_image_blocks > 0:
        blocks = getattr(getattr(model.visual, "transformer", None), "resblocks", None)
        if blocks is None:
            raise ConfigError(
                "model.lock_image_blocks needs a ViT image tower (open_clip VisionTransformer)"
            )
        if cfg.lock_image_blocks > len(blocks):
            raise ConfigError(
                f"model.lock_image_blocks={cfg.lock_image_blocks} but the image tower has "
                f"{len(blocks)} blocks"
            )
        # open_clip locks all but the last G groups: [stem], blocks..., [ln_post], [proj].
        model.lock_image_tower(unlocked_groups=len(blocks) + 1 - cfg.lock_image_blocks)
    if cfg.grad_checkpointing:
        model.set_grad_checkpointing(True)


def clamp_logit_scale(model: Any, max_scale: float) -> None:
    """Keep the learnable temperature's exp within [1, max_scale] (CLIP's clamp at 100)."""
    with torch.no_grad():
        model.logit_scale.clamp_(0, math.log(max_scale))
