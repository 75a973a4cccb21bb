"""The region-level loss (FarSLIP-style, ``loss.region_weight > 0``): each OSM object of a chip
(its ``regions.json`` member: mask and phrase, see :mod:`rsvl.builders.regions`) trains the patch
embeddings it covers to match its phrase.

Data side, per sample (in the data stream's workers): every region's mask goes through the
image's own augmentation (:class:`rsvl.training.augment.Geometry`: the same crop, resize and
transposes) down to the model's patch grid with an area-averaging box filter, giving its
*coverage*: the fraction of each patch's pixels inside the mask. Regions covering less than
``loss.region_min_patches`` patches in total (a house on a 4 x 4 grid of 16 px patches, or an
object the crop cut away) are dropped; of the rest the ``loss.region_max_per_image`` largest are
kept. A batch carries the coverages, the index of each region's image, the batch's unique
phrases tokenised, and each region's phrase index (:func:`collate_regions`).

Loss side (:func:`region_loss`): a region's embedding is the coverage-weighted mean of its
image's projected patch tokens (:mod:`rsvl.models.patches`, after ``ln_post @ proj``, as
segmentation scores them), L2-normalised; its logits are the model's logit scale times its
cosine similarity with every unique phrase of the batch (text tower, same forward pass as the
captions), and the loss is the cross-entropy against its own phrase: regions with the same
phrase are one class. The trainer adds ``region_weight * loss_region`` to the contrastive loss.
Regions are contrasted with the phrases of their own rank's micro-batch only (no gather across
ranks or micro-batches): the phrases of a batch of chips are already many, and their count per
rank differs, which a gather would have to pad.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from rsvl.data.masks import region_mask
from rsvl.errors import ConfigError, InputError
from rsvl.models.patches import PatchTap, require_patch_tokens
from rsvl.training.augment import Geometry

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegionOptions:
    """How a sample's regions become patch coverages.

    Attributes:
        grid: Patches per side of the model's input (``image_size // patch_size``).
        min_patches: Regions covering fewer patches (summed coverage) are dropped.
        max_per_image: At most this many regions per image, the largest coverages first.
    """

    grid: int
    min_patches: float = 1.0
    max_per_image: int = 8


@dataclass
class ImageRegions:
    """The regions kept for one augmented image: ``[R, grid, grid]`` coverages and phrases."""

    coverage: np.ndarray
    phrases: list[str]


def patch_coverage(mask: np.ndarray, geometry: Geometry, grid: int) -> np.ndarray:
    """The fraction of each patch's pixels inside ``mask`` (``H x W`` bool, the source image's
    pixels) after the image's crop, resize and transposes: ``grid x grid`` float32 in 0..1."""
    raster = Image.fromarray(np.asarray(mask, dtype=np.float32), mode="F")
    resampled = geometry.resample(raster, grid, Image.Resampling.BOX)
    return np.clip(np.asarray(resampled, dtype=np.float32), 0.0, 1.0)


def image_regions(regions_json: bytes | None, shape: tuple[int, int], geometry: Geometry,
                  options: RegionOptions, key: str = "") -> ImageRegions:
    """The kept regions of one sample (see the module docstring); none when the sample has no
    ``regions.json`` or an unreadable one (logged)."""
    empty = ImageRegions(np.zeros((0, options.grid, options.grid), np.float32), [])
    if not regions_json:
        return empty
    try:
        regions = json.loads(regions_json)
        kept = [(patch_coverage(region_mask(region, shape), geometry, options.grid),
                 str(region["phrase"])) for region in regions]
    except (ValueError, KeyError, TypeError, InputError) as error:
        LOG.warning("sample %s: unreadable regions.json (%s); trained without regions",
                    key, error)
        return empty
    # A region the crop cut away covers nothing, whatever min_patches says.
    kept = [(c, p) for c, p in kept if c.sum() >= options.min_patches and c.any()]
    kept.sort(key=lambda item: -float(item[0].sum()))  # stable: the listed order breaks ties
    kept = kept[:options.max_per_image]
    if not kept:
        return empty
    return ImageRegions(np.stack([c for c, _ in kept]), [p for _, p in kept])


def collate_regions(per_image: Sequence[ImageRegions],
                    tokenizer: Callable[[list[str]], torch.Tensor]) -> dict[str, torch.Tensor]:
    """One batch's regions: ``coverage`` ``[R, g, g]``, ``image`` ``[R]`` (index in the batch),
    ``label`` ``[R]`` (index in ``text``) and ``text``: the unique phrases' tokens ``[U, ctx]``
    (``U`` may be 0)."""
    phrases = list(dict.fromkeys(p for item in per_image for p in item.phrases))
    index = {phrase: i for i, phrase in enumerate(phrases)}
    grids = [item.coverage for item in per_image]
    return {
        "coverage": torch.from_numpy(np.concatenate(grids)),
        "image": torch.tensor([i for i, item in enumerate(per_image) for _ in item.phrases],
                              dtype=torch.long),
        "label": torch.tensor([index[p] for item in per_image for p in item.phrases],
                              dtype=torch.long),
        "text": tokenizer(phrases) if phrases else torch.zeros((0, 0), dtype=torch.long),
    }


def pool_regions(patches: torch.Tensor, coverage: torch.Tensor, image: torch.Tensor
                 ) -> torch.Tensor:
    """L2-normalised region embeddings ``[R, dim]``: each region's coverage-weighted mean of
    its image's patch embeddings (``patches`` ``[N, g, g, dim]``)."""
    weights = coverage.flatten(1).to(patches.dtype)  # [R, P]
    tokens = patches.flatten(1, 2)[image]  # [R, P, dim]
    pooled = torch.einsum("rp,rpd->rd", weights, tokens) / weights.sum(1, keepdim=True)
    return F.normalize(pooled, dim=-1)


def region_loss(patches: torch.Tensor, coverage: torch.Tensor, image: torch.Tensor,
                phrase_features: torch.Tensor, label: torch.Tensor, scale: torch.Tensor
                ) -> torch.Tensor:
    """Cross-entropy of each region's logits over the batch's unique phrases.

    Args:
        patches: ``[N, g, g, dim]`` projected patch embeddings of the batch's images.
        coverage: ``[R, g, g]`` each region's patch coverage.
        image: ``[R]`` each region's image index.
        phrase_features: ``[U, dim]`` L2-normalised text embeddings of the unique phrases.
        label: ``[R]`` each region's phrase index.
        scale: The model's logit scale (``exp`` of the learnable temperature).

    Returns:
        The mean over regions; 0 (no gradient) for a batch without regions.
    """
    if len(label) == 0:
        return torch.zeros((), device=patches.device)
    regions = pool_regions(patches, coverage, image)
    logits = scale * regions @ phrase_features.to(regions.dtype).T
    return F.cross_entropy(logits.float(), label)


def region_tap(model: Any, spec: object, sharded: bool) -> PatchTap:
    """The patch-token tap of a run with the region loss, after refusing the models and set-ups
    it cannot train (each refusal one line saying what to change).

    Raises:
        ConfigError: FSDP (the tap reads the unsharded tower), a tower without projected patch
            tokens (not an open_clip ViT), or one that drops patches in training.
    """
    if sharded:
        raise ConfigError("loss.region_weight > 0 does not work under FSDP (the patch tokens "
                          "are tapped from the unsharded image tower); train with DDP or set "
                          "loss.region_weight=0")
    visual = require_patch_tokens(model, spec, "loss.region_weight > 0")
    if not isinstance(visual.patch_dropout, torch.nn.Identity):
        raise ConfigError(f"loss.region_weight > 0 needs every patch token, but {spec} drops "
                          "patches in training (patch_dropout); use a model without it or set "
                          "loss.region_weight=0")
    return PatchTap(visual)
