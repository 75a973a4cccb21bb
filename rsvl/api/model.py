"""``load_model``: any model spec as an object that embeds, classifies and compares images.

    >>> model = rsvl.load_model("runs/tiny/export")
    >>> model.classify(["chip.jpg"], ["forest", "river", "residential area"])
    [[('forest', 0.71), ('river', 0.2), ('residential area', 0.09)]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rsvl.api.images import describe, iter_images, to_pil
from rsvl.errors import ConfigError, InputError
from rsvl.evaluation.zeroshot import LOGIT_SCALE
from rsvl.models import LoadedModel, encode_images, load_clip

DEFAULT_TEMPLATES = "skyscript"

Prediction = list[tuple[str, float]]


def load_model(name_or_path: str, device: str | None = None) -> RsvlModel:
    """Load a model for inference from any spec :func:`rsvl.models.load_clip` accepts.

    Args:
        name_or_path: An rsvl export folder, ``ARCH:TAG`` (open_clip pretrained tag),
            ``ARCH:PATH`` (local checkpoint), ``hf-hub:ORG/REPO`` or a bare architecture
            (random weights, seeded so the same spec always gives the same model).
        device: ``cuda``, ``mps`` or ``cpu``; picked automatically when None.

    Returns:
        The model, ready to embed images and texts.
    """
    return RsvlModel(load_clip(name_or_path, device=device))


class RsvlModel:
    """An open_clip model with its transform and tokenizer, for embedding and zero-shot use.

    Embeddings are returned as L2-normalised ``float32`` numpy arrays, one row per input.

    Attributes:
        loaded: The underlying :class:`rsvl.models.LoadedModel`.
        spec: The model spec string it was loaded from.
        checksum: sha256 of its weights (an index records it to refuse other models).
        device: Where it runs.
        embed_dim: Length of its embeddings.
    """

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        # Export folders are recorded absolute so an index finds its model from anywhere.
        self.spec = (str(Path(str(loaded.spec.source)).resolve()) if loaded.spec.kind == "export"
                     else str(loaded.spec))
        self.checksum = loaded.checksum
        self.device = loaded.device
        # Asking the model is the one way that holds for every open_clip tower type.
        self.embed_dim = int(self.encode_texts(["x"]).shape[1])

    def __repr__(self) -> str:
        return f"RsvlModel({self.spec!r}, device={self.device!r}, sha256={self.checksum[:12]})"

    def encode_images(self, images: Any, batch_size: int = 64,
                      progress: bool = False) -> np.ndarray:
        """Embed images (see :func:`rsvl.api.images.to_pil` for every accepted kind).

        Args:
            images: One image, a sequence of images, or a 4-D array/tensor batch.
            batch_size: Images per forward pass.
            progress: Show a tqdm progress bar.

        Returns:
            ``N x embed_dim`` float32, L2-normalised.
        """
        return self.encode_pil((to_pil(image) for image in iter_images(images)),
                               batch_size=batch_size, progress=progress,
                               total=_length(images))

    def encode_pil(self, images: Iterable[Any], batch_size: int = 64, progress: bool = False,
                   total: int | None = None) -> np.ndarray:
        """Embed an iterable of RGB PIL images, streaming them in batches."""
        features = encode_images(self.loaded, images, batch_size, progress=progress, total=total)
        if not len(features):
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        return features.numpy()

    def encode_texts(self, texts: str | Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embed texts; returns ``N x embed_dim`` float32, L2-normalised."""
        from rsvl.evaluation.features import text_features

        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise InputError("texts must be a non-empty list of non-empty strings")
        return text_features(self.loaded, texts, batch_size=batch_size).numpy()

    def class_embeddings(self, labels: Sequence[str],
                         templates: str | Sequence[str] | None = None) -> np.ndarray:
        """One embedding per label: the evaluators' normalised prompt ensemble.

        Args:
            labels: Class names as they should read in a sentence (``sea lake``).
            templates: A template set name or JSON file (see
                :func:`rsvl.evaluation.prompts.get_templates`: ``skyscript``,
                ``remoteclip``, ``rs5m``...), a list of templates with ``{c}`` for the label,
                or None for ``skyscript``.

        Returns:
            ``len(labels) x embed_dim`` float32, L2-normalised.
        """
        from rsvl.evaluation.zeroshot import zero_shot_classifier

        classifier = zero_shot_classifier(self.loaded, _check_labels(labels),
                                          resolve_templates(templates))
        return classifier.T.contiguous().numpy()

    def classify(self, images: Any, labels: Sequence[str],
                 templates: str | Sequence[str] | None = None, top_k: int = 5,
                 batch_size: int = 64, progress: bool = False) -> list[Prediction]:
        """Zero-shot classify images among ``labels``.

        Args:
            images: One image, a sequence of them or a batch (any kind :func:`to_pil` takes).
            labels: Candidate class names.
                Probabilities are the softmax of 100 x cosine similarity, the evaluators'
                zero-shot protocol.
            templates: Prompt templates (see :meth:`class_embeddings`).
            top_k: Labels kept per image (at most ``len(labels)``).
            batch_size: Images per forward pass.
            progress: Show a progress bar while embedding.

        Returns:
            Per image, its ``top_k`` ``(label, probability)`` pairs, most probable first.
        """
        labels = _check_labels(labels)
        if top_k < 1:
            raise ConfigError(f"top_k must be at least 1, got {top_k}")
        classes = self.class_embeddings(labels, templates)
        features = self.encode_images(images, batch_size=batch_size, progress=progress)
        logits = LOGIT_SCALE * features @ classes.T
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :min(top_k, len(labels))]
        return [[(labels[j], float(row[j])) for j in ranks]
                for row, ranks in zip(probabilities, order, strict=True)]

    def similarity(self, images: Any, texts: str | Sequence[str]) -> np.ndarray:
        """Cosine similarity of every image with every text: ``n_images x n_texts``."""
        return self.encode_images(images) @ self.encode_texts(texts).T

    def image_names(self, images: Any) -> list[str]:
        """Display names of ``images`` (paths, or positions), in the order they are embedded."""
        return [describe(image, i) for i, image in enumerate(iter_images(images))]


def resolve_templates(templates: str | Sequence[str] | None) -> list[str]:
    """A list of ``{c}`` templates from a set name, a list, or None (the default set)."""
    from rsvl.evaluation.prompts import get_templates

    if templates is None or isinstance(templates, str):
        return get_templates(templates or DEFAULT_TEMPLATES)
    prompts = list(templates)
    if not prompts or not all(isinstance(t, str) and "{c}" in t for t in prompts):
        raise ConfigError("templates must be a set name or a list of strings containing {c}, "
                          "e.g. ['a satellite image of {c}']")
    return prompts


def _check_labels(labels: Sequence[str]) -> list[str]:
    if isinstance(labels, str):
        raise ConfigError(f"labels must be a list of class names, not the string {labels!r}; "
                          "split it first, e.g. labels.split(',')")
    labels = [str(label).strip() for label in labels]
    if not labels or not all(labels):
        raise ConfigError("labels must be a non-empty list of non-empty class names")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"labels contain duplicates: {labels}")
    return labels


def _length(images: Any) -> int | None:
    """How many images ``images`` holds when that is known without reading them."""
    if isinstance(images, list | tuple):
        return len(images)
    return int(images.shape[0]) if getattr(images, "ndim", 0) == 4 else None
