"""Zero-shot accuracy on a class-folder validation set, called by the training loop's eval hook.

A deliberately small stand-in: prompt embeddings averaged per class (normalised, averaged,
normalised again, as protocols.md says), top-1 accuracy over at most ``max_images`` images.
The full evaluators (all metrics, presets, result files) live in ``rsvl.evaluation``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from rsvl.errors import InputError
from rsvl.training.augment import ImageTransform

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}


def class_folder_images(
    folder: str | Path, max_images: int
) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names (sub-folder names, ``_`` as space) and (image, label) pairs, in sorted order."""
    root = Path(folder)
    classes = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if len(classes) < 2:
        raise InputError(f"{root}: expected a folder with one sub-folder of images per class")
    items = [
        (image, label)
        for label, class_dir in enumerate(classes)
        for image in sorted(class_dir.iterdir())
        if image.suffix.lower() in IMAGE_SUFFIXES
    ]
    if len(items) > max_images:
        items = random.Random(0).sample(items, max_images)
    return [c.name.replace("_", " ") for c in classes], items


@torch.no_grad()
def class_folder_accuracy(
    model: Any,
    tokenizer: Callable[[list[str]], torch.Tensor],
    transform: ImageTransform,
    folder: str | Path,
    templates: Sequence[str],
    device: torch.device | str,
    max_images: int = 2000,
    batch_size: int = 64,
) -> dict[str, float]:
    """Top-1 zero-shot accuracy of ``model`` (an unwrapped open_clip CLIP) on ``folder``."""
    names, items = class_folder_images(folder, max_images)
    was_training = model.training
    model.eval()
    class_embeddings = []
    for name in names:
        prompts = tokenizer([t.format(c=name) for t in templates]).to(device)
        embedding = F.normalize(model.encode_text(prompts).float(), dim=-1).mean(dim=0)
        class_embeddings.append(F.normalize(embedding, dim=-1))
    classifier = torch.stack(class_embeddings, dim=1)
    correct = 0
    rng = random.Random(0)
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        images = torch.stack([transform(Image.open(path), rng) for path, _ in chunk]).to(device)
        features = F.normalize(model.encode_image(images).float(), dim=-1)
        predicted = (features @ classifier).argmax(dim=1).cpu()
        correct += int((predicted == torch.tensor([label for _, label in chunk])).sum())
    model.train(was_training)
    return {"zero_shot_acc1": correct / len(items), "zero_shot_images": float(len(items))}
