"""The checksum that identifies a model's weights (recorded in exports and result files)."""

from __future__ import annotations

import hashlib
from typing import Any


def weights_sha256(model: Any) -> str:
    """sha256 over the state dict (names and raw bytes, in key order)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(_uint8()).numpy().tobytes())
    return digest.hexdigest()


def _uint8() -> Any:
    import torch

    return torch.uint8
