"""WiSE-FT: weight-space interpolation between an initial and a fine-tuned model.

``theta = (1 - alpha) * theta_initial + alpha * theta_trained`` (Wortsman et al., 2022): the
interpolated model usually keeps most of the zero-shot robustness of the initial model while
gaining the fine-tuned model's in-domain accuracy. ``alpha = 0`` gives the initial weights and
``alpha = 1`` the trained weights, bit for bit. The initial model must be the trained run's
real starting point: when the trained export records its parent's weights checksum
(``parent_sha256``), an ``initial`` with other weights is refused unless
``allow_other_initial``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rsvl.errors import ConfigError, InputError
from rsvl.models import LoadedModel, export_model, load_clip, read_export_info


def interpolate_state(
    initial: dict[str, torch.Tensor], trained: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """Interpolate floating-point tensors; other tensors (integer buffers) come from ``trained``.

    Raises:
        InputError: The two state dicts do not have the same names and shapes.
    """
    if initial.keys() != trained.keys():
        example = sorted(set(initial) ^ set(trained))[0]
        raise InputError(f"the two models have different parameters (e.g. {example}); "
                         "WiSE-FT needs two checkpoints of the same architecture")
    mixed = {}
    for name, theta_trained in trained.items():
        theta_initial = initial[name]
        if theta_initial.shape != theta_trained.shape:
            raise InputError(f"parameter {name} has shape {tuple(theta_initial.shape)} in one "
                             f"model and {tuple(theta_trained.shape)} in the other")
        if theta_trained.is_floating_point():
            mixed[name] = (1 - alpha) * theta_initial + alpha * theta_trained
        else:
            mixed[name] = theta_trained.clone()
    return mixed


def check_initial(start: LoadedModel, end: LoadedModel, allow_other: bool = False) -> str:
    """Whether ``start`` has the weights ``end`` was trained from; returns the verdict recorded.

    Raises:
        InputError: ``end`` records a different parent checksum and ``allow_other`` is False.
    """
    info = read_export_info(str(end.spec.source)) if end.spec.kind == "export" else {}
    parent = (info.get("provenance") or {}).get("parent_sha256")
    if parent is None:
        return "unverified: the trained model records no parent_sha256"
    if parent == start.checksum:
        return "matches the trained model's parent_sha256"
    if not allow_other:
        raise InputError(
            f"--initial {start.spec} (weights sha256 {start.checksum[:12]}) is not the model "
            f"{end.spec} was trained from (parent_sha256 {parent[:12]}, "
            f"{(info.get('provenance') or {}).get('parent', '?')}); pass that model, or "
            "--allow-other-initial to interpolate anyway"
        )
    return f"other initial allowed (--allow-other-initial); trained from {parent}"


def wise_ft(initial: str, trained: str, alpha: float, out_dir: str | Path, *,
            allow_other_initial: bool = False) -> Path:
    """Load two model specs, interpolate their weights and export the result to ``out_dir``.

    Args:
        initial: Spec of the model before fine-tuning (e.g. ``ViT-B-32:openai``).
        trained: Spec of the fine-tuned model (e.g. ``runs/x/export``).
        alpha: Weight of the trained model, in [0, 1].
        out_dir: Export folder for the interpolated model.
        allow_other_initial: Interpolate although ``initial`` is not the recorded parent.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"--alpha must be between 0 and 1, got {alpha}")
    start = load_clip(initial, device="cpu")
    end = load_clip(trained, device="cpu")
    verdict = check_initial(start, end, allow_other_initial)
    arch = end.arch or start.arch
    if arch is None:
        raise InputError(f"architecture of {trained} unknown; pass it as ARCH:PATH")
    mixed = interpolate_state(start.model.state_dict(), end.model.state_dict(), alpha)
    end.model.load_state_dict(mixed)
    provenance = {"method": "wise-ft", "alpha": alpha, "initial": str(start.spec),
                  "initial_sha256": start.checksum, "trained": str(end.spec),
                  "trained_sha256": end.checksum, "initial_check": verdict}
    return export_model(end.model, arch, out_dir, provenance)
