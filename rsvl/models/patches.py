"""Projected patch tokens of an open_clip ViT: what segmentation scores and the region loss pools.

An open_clip ``VisionTransformer`` pools its transformer's output (class token, after
``ln_post``) and projects it with ``proj`` into the joint embedding space. The patch tokens,
put through the same ``ln_post`` and ``@ proj``, live in that space too: each is an embedding of
one ``patch x patch`` cell of the input (:func:`project_patches`). Evaluation reads them in an
inference pass of its own (:func:`patch_tokens`); training taps the transformer's output inside
the model's ordinary forward pass (:class:`PatchTap`), so the image tower runs once per batch
and a DDP wrapper sees one forward per backward.
"""

from __future__ import annotations

from typing import Any

import torch

from rsvl.errors import ConfigError


def require_patch_tokens(model: Any, spec: object, purpose: str) -> Any:
    """The model's image tower when it has projected patch tokens.

    Raises:
        ConfigError: The image tower is not an open_clip VisionTransformer without attentional
            pooling and with a projection (ResNets, timm towers and CoCa poolers have no
            projected patch tokens); the message names ``purpose``.
    """
    from open_clip.transformer import VisionTransformer

    visual = model.visual
    if not isinstance(visual, VisionTransformer) or visual.attn_pool is not None \
            or visual.proj is None:
        raise ConfigError(f"{purpose} needs an open_clip ViT image tower with a projection; "
                          f"{spec} has {type(visual).__name__}")
    return visual


def project_patches(visual: Any, tokens: torch.Tensor, image_shape: tuple[int, ...]
                    ) -> torch.Tensor:
    """Patch embeddings ``[N, grid_h, grid_w, dim]`` (not normalised) of the transformer's
    output ``tokens`` ``[N, 1 + grid_h * grid_w, width]`` for images of ``image_shape``
    (``(..., H, W)``): ``ln_post`` and ``@ proj``, the pooled embedding's projection."""
    projected = visual.ln_post(tokens[:, 1:]) @ visual.proj  # drop the class token
    grid_h, grid_w = (side // patch for side, patch in zip(image_shape[-2:], visual.patch_size,
                                                           strict=True))
    return projected.reshape(len(tokens), grid_h, grid_w, -1)


def patch_tokens(visual: Any, pixels: torch.Tensor) -> torch.Tensor:
    """Patch embeddings ``[N, grid_h, grid_w, dim]`` of transformed images (one forward pass of
    the image tower, with gradients when they are enabled)."""
    return project_patches(visual, visual.transformer(visual._embeds(pixels)), pixels.shape)


class PatchTap:
    """Keeps the transformer output of an image tower's last forward pass (a forward hook), so
    the patch embeddings of a batch come from the pass that also computed its pooled features.

    Use as a context manager (``with PatchTap(visual) as tap: ...``), which removes the hook.
    """

    def __init__(self, visual: Any) -> None:
        self.visual = visual
        self.tokens: torch.Tensor | None = None
        self._handle = visual.transformer.register_forward_hook(self._keep)

    def _keep(self, module: Any, inputs: Any, output: torch.Tensor) -> None:
        self.tokens = output

    def patches(self, image_shape: tuple[int, ...]) -> torch.Tensor:
        """The last pass's patch embeddings (see :func:`project_patches`)."""
        if self.tokens is None:
            raise RuntimeError("PatchTap: the image tower has not run yet")
        return project_patches(self.visual, self.tokens, image_shape)

    def close(self) -> None:
        """Remove the hook."""
        self._handle.remove()
        self.tokens = None

    def __enter__(self) -> PatchTap:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
