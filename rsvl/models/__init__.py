"""Model registry, loading, export and the shared image-embedding loop (:func:`encode_images`).

One loader for the trainer, evaluators, API and builders.

Model specs (strings, as on the command line):

- ``ARCH``: an open_clip architecture from scratch (random init), e.g. ``rsvl-tiny``;
- ``ARCH:TAG``: an open_clip pretrained tag, e.g. ``ViT-B-32:laion2b_s34b_b79k`` (downloads);
- ``ARCH:PATH``: a local open_clip checkpoint (``.pt``/``.bin``/``.safetensors``);
- ``PATH``: an rsvl export folder (``open_clip_config.json`` + ``open_clip_model.safetensors``);
- ``hf-hub:ORG/REPO``: an open_clip model on the Hugging Face Hub (downloads).
"""

from rsvl.models.encode import encode_images
from rsvl.models.export import export_model, read_export_info
from rsvl.models.loading import (
    MAX_CONTEXT_LENGTH,
    LoadedModel,
    ModelSpec,
    load_clip,
    parse_model_spec,
)
from rsvl.models.registry import get_architecture, list_architectures

__all__ = [
    "MAX_CONTEXT_LENGTH",
    "LoadedModel",
    "ModelSpec",
    "encode_images",
    "export_model",
    "get_architecture",
    "list_architectures",
    "load_clip",
    "parse_model_spec",
    "read_export_info",
]
