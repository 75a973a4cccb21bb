"""Export a trained model as a folder that open_clip and rsvl load directly.

Layout (open_clip's ``local-dir:`` / Hugging Face Hub layout, plus rsvl's provenance):

- ``open_clip_config.json``: ``{"model_cfg": ..., "preprocess_cfg": ...}``;
- ``open_clip_model.safetensors``: the weights (no pickles);
- ``rsvl_model.json``: architecture name, weights sha256, training provenance.

``open_clip.create_model_and_transforms("local-dir:DIR")`` loads it, and so does
``create_model_and_transforms(ARCH, pretrained="DIR/open_clip_model.safetensors")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rsvl import __version__
from rsvl.data.atomic import atomic_folder, read_json, write_json

WEIGHTS_FILE = "open_clip_model.safetensors"
CONFIG_FILE = "open_clip_config.json"
INFO_FILE = "rsvl_model.json"


def export_model(
    model: Any,
    arch: str,
    out_dir: str | Path,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (an open_clip CLIP) to ``out_dir``, which appears complete or not at all.

    Args:
        model: The model to export (unwrapped from DDP/Accelerate).
        arch: Its open_clip architecture name (its config is embedded).
        out_dir: Destination folder; replaced if it exists.
        provenance: Command, config, data and parent checkpoint to record.

    Returns:
        The export folder.
    """
    import open_clip
    from safetensors.torch import save_file

    from rsvl.models.checksum import weights_sha256

    out_dir = Path(out_dir)
    with atomic_folder(out_dir) as staging:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(staging / WEIGHTS_FILE))
        write_json(
            staging / CONFIG_FILE,
            {
                "model_cfg": _model_cfg(model, arch),
                "preprocess_cfg": dict(open_clip.get_model_preprocess_cfg(model)),
            },
        )
        write_json(
            staging / INFO_FILE,
            {
                "arch": arch,
                "sha256": weights_sha256(model),
                "rsvl_version": __version__,
                "provenance": provenance or {},
            },
        )
    return out_dir


def _model_cfg(model: Any, arch: str) -> dict[str, Any]:
    """The architecture's config with the model's own text context length (a run with
    ``model.context_length`` built another than the architecture's), plus the SigLIP bias a
    sigmoid-loss model was trained with (open_clip creates the ``logit_bias`` parameter only
    when the config names it)."""
    from rsvl.models.registry import get_architecture

    cfg = dict(get_architecture(arch))
    context = getattr(model, "context_length", None)
    if context is not None and "text_cfg" in cfg:
        cfg["text_cfg"] = {**cfg["text_cfg"], "context_length": int(context)}
    bias = getattr(model, "logit_bias", None)
    if bias is not None:
        cfg["init_logit_bias"] = float(bias.detach().reshape(-1)[0])
    return cfg


def read_export_info(export_dir: str | Path) -> dict[str, Any]:
    """The ``rsvl_model.json`` of an export (empty for a plain open_clip folder)."""
    path = Path(export_dir) / INFO_FILE
    return dict(read_json(path, "export info")) if path.is_file() else {}
