"""Open-vocabulary localisation: patch-text similarity maps scored as mIoU and pixel accuracy.

Each chip goes through the image tower; its patch tokens (for open_clip ViTs: the transformer's
output tokens after ``ln_post`` and ``@ proj``, the same projection as the pooled embedding)
are compared by cosine similarity with each class's text embedding (prompt templates averaged
as in zero-shot), the ``classes x grid x grid`` map is upsampled bilinearly to the chip's
pixels and each pixel takes its most similar class. Scores are the standard ones: per class
``IoU = TP / (TP + FP + FN)`` over the pixels that have a label (``IGNORE`` pixels count
nowhere), mIoU = mean over the classes present in the ground truth or the prediction, and pixel
accuracy = correct / labelled pixels.

Masks come from the built-in region's ``classes.tif`` (a mask set cut over the split rule's
held-out cells by :mod:`rsvl.builders.segmentation_sets`, read by :func:`load_mask_set`) or from
a caption build's region-text pairs (:func:`load_build_masks`: each chip's OSM object masks).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rsvl.data.images import open_image
from rsvl.data.masks import read_label_png, region_mask
from rsvl.data.records import RECORDS_FILE, read_records
from rsvl.errors import InputError
from rsvl.evaluation.prompts import Ensemble
from rsvl.evaluation.zeroshot import zero_shot_classifier
from rsvl.models import LoadedModel
from rsvl.models.patches import patch_tokens, require_patch_tokens

IGNORE = -1  # mask value of unlabelled pixels
REGION_LAYOUT = "region-classes"
BUILD_LAYOUT = "region-text"
# Pixels no region covers in a region-text build are this class (a prompt like any other).
BACKGROUND = "background"
MASK_SET_FILE = "segmentation.json"  # as rsvl.builders.segmentation_sets writes it


@dataclass
class SegmentationSet:
    """Chips with per-pixel class masks.

    Attributes:
        name: Dataset name (results and file names).
        split: The evaluated split (``all`` for every chip).
        source: Folder it was read from.
        layout: ``region-classes`` or ``region-text``.
        classes: Class keys, in mask-value order (mask value ``i`` is ``classes[i]``).
        classnames: Names put in the prompts, in the same order.
        keys: Chip names.
        images: ``H x W x 3`` uint8 chips.
        masks: ``H x W`` int16 masks (``IGNORE`` where unlabelled), one per chip.
        details: How the chips were cut (recorded in the protocol).
    """

    name: str
    split: str
    source: Path
    layout: str
    classes: list[str]
    classnames: list[str]
    keys: list[str] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """sha256 over the classes, chip names, pixels and masks."""
        digest = hashlib.sha256(json.dumps([self.classes, self.keys, self.details],
                                           sort_keys=True, default=str).encode())
        for image, mask in zip(self.images, self.masks, strict=True):
            digest.update(np.ascontiguousarray(image).tobytes())
            digest.update(np.ascontiguousarray(mask).tobytes())
        return digest.hexdigest()


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, num_classes: int,
                     ignore_index: int = IGNORE) -> np.ndarray:
    """``classes x classes`` pixel counts, row = true class, column = predicted class; pixels
    whose truth is ``ignore_index`` are left out."""
    truth, predicted = np.asarray(truth).ravel(), np.asarray(predicted).ravel()
    if truth.shape != predicted.shape:
        raise ValueError(f"mask sizes differ: {truth.size} and {predicted.size} pixels")
    valid = truth != ignore_index
    pairs = truth[valid].astype(np.int64) * num_classes + predicted[valid].astype(np.int64)
    return np.bincount(pairs, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def segmentation_metrics(confusion: np.ndarray, classnames: Sequence[str]) -> dict[str, Any]:
    """mIoU (over classes in the truth or the prediction), pixel accuracy, per-class IoU.

    A class absent from both has no IoU (``None``) and does not count in the mean.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
    present = union > 0
    iou = np.divide(tp, union, out=np.zeros_like(tp), where=present)
    total = confusion.sum()
    return {
        "miou": float(iou[present].mean()) if present.any() else 0.0,
        "pixel_accuracy": float(tp.sum() / total) if total else 0.0,
        "num_pixels": int(total),
        "num_classes_present": int(present.sum()),
        "per_class_iou": {name: float(iou[i]) if present[i] else None
                          for i, name in enumerate(classnames)},
    }


def patch_features(loaded: LoadedModel, pixels: torch.Tensor) -> torch.Tensor:
    """L2-normalised patch embeddings ``[N, grid_h, grid_w, dim]`` of transformed images
    (:func:`rsvl.models.patches.patch_tokens`, as the region training loss pools them).

    Raises:
        ConfigError: The image tower has no projected patch tokens (not an open_clip ViT).
    """
    visual = require_patch_tokens(loaded.model, loaded.spec, "segmentation")
    with torch.inference_mode():
        tokens = patch_tokens(visual, pixels.to(loaded.device))
    return F.normalize(tokens.float(), dim=-1).cpu()


def similarity_maps(loaded: LoadedModel, images: Sequence[np.ndarray], classifier: torch.Tensor,
                    batch_size: int = 64) -> list[torch.Tensor]:
    """Patch-text cosine similarity per class, upsampled bilinearly to each chip's pixels.

    Args:
        loaded: The model.
        images: ``H x W x 3`` uint8 chips.
        classifier: ``[dim, classes]`` normalised class (or query) embeddings.
        batch_size: Chips per forward pass.

    Returns:
        One ``classes x H x W`` float tensor per chip.
    """
    from PIL import Image

    maps: list[torch.Tensor] = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        pixels = torch.stack([loaded.preprocess(Image.fromarray(image)) for image in batch])
        scores = patch_features(loaded, pixels) @ classifier.float().cpu()  # [N, h, w, C]
        scores = scores.permute(0, 3, 1, 2)
        for image, score in zip(batch, scores, strict=True):
            maps.append(F.interpolate(score[None], size=image.shape[:2], mode="bilinear",
                                      align_corners=False)[0])
    return maps


def predict_masks(loaded: LoadedModel, images: Sequence[np.ndarray], classifier: torch.Tensor,
                  batch_size: int = 64) -> list[np.ndarray]:
    """Per-pixel argmax of the patch-text similarity (:func:`similarity_maps`)."""
    return [score.argmax(dim=0).numpy().astype(np.int16)
            for score in similarity_maps(loaded, images, classifier, batch_size)]


def segmentation_baselines(confusion: np.ndarray) -> dict[str, float]:
    """What predictions that ignore the image score, from the true pixel counts (the rows).

    Class ``c`` holds a share ``p_c`` of the labelled pixels; ``T`` classes are in the truth,
    ``C`` can be predicted. Always predicting the largest class ``k`` gives it ``IoU = p_k`` and
    the other ``T - 1`` true classes 0, so ``majority_miou = p_k / T`` and
    ``majority_pixel_accuracy = p_k``. A uniformly random class per pixel gives, in
    expectation, ``IoU_c = p_c / (1 + (C - 1) p_c)`` (TP ``p_c / C``, FP ``(1 - p_c) / C``, FN
    ``p_c (C - 1) / C``), 0 for the classes it predicts that the truth lacks, averaged over all
    ``C``; its pixel accuracy is ``1 / C``.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    truth, total = counts.sum(axis=1), counts.sum()
    if not total:
        return {"majority_miou": 0.0, "majority_pixel_accuracy": 0.0, "chance_miou": 0.0,
                "chance_pixel_accuracy": 0.0}
    shares, classes = truth / total, len(truth)
    return {
        "majority_miou": float(shares.max() / np.count_nonzero(shares)),
        "majority_pixel_accuracy": float(shares.max()),
        "chance_miou": float(np.sum(shares / (1 + (classes - 1) * shares)) / classes),
        "chance_pixel_accuracy": 1.0 / classes,
    }


def evaluate_segmentation(loaded: LoadedModel, dataset: SegmentationSet,
                          templates: Sequence[str], *, ensemble: Ensemble = "normalized",
                          batch_size: int = 64) -> dict[str, Any]:
    """Localise every class of ``dataset`` in every chip and score the maps.

    Returns:
        ``{"task", "dataset", "metrics", "protocol", "num_images", "skipped_images"}`` with
        mIoU, pixel accuracy, per-class IoU and the pixel confusion matrix.
    """
    if not dataset.images:
        raise InputError(f"{dataset.source}: no chips in split {dataset.split!r} to evaluate")
    classifier = zero_shot_classifier(loaded, dataset.classnames, templates, ensemble)
    predicted = predict_masks(loaded, dataset.images, classifier, batch_size)
    size = len(dataset.classes)
    confusion = sum((confusion_matrix(m, p, size) for m, p in zip(dataset.masks, predicted,
                                                                 strict=True)),
                    np.zeros((size, size), dtype=np.int64))
    metrics = segmentation_metrics(confusion, dataset.classnames)
    return {
        "task": "segmentation",
        "dataset": {"name": dataset.name, "path": str(dataset.source), "layout": dataset.layout,
                    "split": dataset.split, "completeness": None},
        "metrics": {**metrics, **segmentation_baselines(confusion),
                    "pixel_confusion": confusion.tolist()},
        "protocol": {
            "templates": list(templates), "ensemble": ensemble, "classes": dataset.classes,
            "class_names": dataset.classnames, "ignore_index": IGNORE,
            "features": "ViT patch tokens after ln_post @ proj, L2-normalised",
            "score": "cosine similarity, bilinear upsampling to the chip, argmax per pixel",
            "miou": "mean IoU over classes present in the truth or the prediction",
            **dataset.details,
        },
        "num_images": len(dataset.images),
        "skipped_images": [],
    }


def load_mask_set(folder: str | Path) -> SegmentationSet:
    """A mask set written by :func:`rsvl.builders.segmentation_sets.write_region_mask_set`.

    Raises:
        InputError: The folder's ``segmentation.json`` or one of its files is unreadable.
    """
    folder = Path(folder)
    try:
        summary = json.loads((folder / MASK_SET_FILE).read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"{folder / MASK_SET_FILE}: unreadable mask set ({error})") from None
    images, masks = [], []
    for key in summary["chips"]:
        with open_image(folder / "images" / f"{key}.png") as image:
            images.append(np.asarray(image.convert("RGB")))
        labels = read_label_png(folder / "masks" / f"{key}.png").astype(np.int16)
        masks.append(np.where(labels == summary["ignore"], IGNORE, labels).astype(np.int16))
    return SegmentationSet(name=summary["name"], split=summary["split"], source=folder,
                           layout=REGION_LAYOUT, classes=list(summary["classes"]),
                           classnames=list(summary["class_names"]), keys=list(summary["chips"]),
                           images=images, masks=masks, details=dict(summary["details"]))


def load_build_masks(folder: str | Path, split: str = "test") -> SegmentationSet:
    """Chips of a caption build with masks from their region-text pairs.

    Each chip's regions paint their head noun (``house``, ``residential area``: attribute
    words would split one kind of object into many classes) in the order the record lists them
    (largest first, so a house is painted over the residential area around it); pixels no
    region covers are :data:`BACKGROUND`, a class like the others.

    Raises:
        InputError: The folder holds no records, or none of ``split`` with regions.
    """
    folder = Path(folder)
    chosen = [r for r in read_records(folder / RECORDS_FILE)
              if (split == "all" or r.split == split) and r.extra.get("regions")]
    if not chosen:
        raise InputError(f"{folder}: no {split!r} records with region-text pairs (build it with "
                         f"this rsvl version: `rsvl build captions`)")
    phrases = sorted({region["noun"] for r in chosen for region in r.extra["regions"]})
    classes = [BACKGROUND, *(p for p in phrases if p != BACKGROUND)]
    index = {name: i for i, name in enumerate(classes)}
    keys, images, masks = [], [], []
    for record in chosen:
        with open_image(folder / record.image) as image:
            pixels = np.asarray(image.convert("RGB"))
        mask = np.zeros(pixels.shape[:2], dtype=np.int16)
        for region in record.extra["regions"]:
            mask[region_mask(region, pixels.shape[:2])] = index[region["noun"]]
        keys.append(record.key)
        images.append(pixels)
        masks.append(mask)
    return SegmentationSet(name=folder.name, split=split, source=folder, layout=BUILD_LAYOUT,
                           classes=[c.replace(" ", "_") for c in classes], classnames=classes,
                           keys=keys, images=images, masks=masks,
                           details={"background": BACKGROUND, "labels": "region-text masks"})


def load_segmentation(dataset: str | Path, split: str = "test") -> SegmentationSet:
    """A mask set folder (``segmentation.json``) or a caption build with region-text pairs.

    Raises:
        InputError: Neither, or a region folder (``rsvl eval segmentation`` cuts its mask set
            first; in Python: :func:`rsvl.builders.segmentation_sets.write_region_mask_set`).
    """
    folder = Path(dataset)
    if (folder / MASK_SET_FILE).is_file():
        return load_mask_set(folder)
    if (folder / RECORDS_FILE).is_file():
        return load_build_masks(folder, split)
    if (folder / "region.json").is_file():
        raise InputError(f"{folder} is a region folder: cut its mask set first "
                         f"(rsvl.builders.segmentation_sets.write_region_mask_set; the CLI "
                         f"`rsvl eval segmentation --dataset {folder}` does it)")
    raise InputError(f"segmentation dataset {folder} not found: give a region folder, a mask "
                     f"set or a caption build folder")
