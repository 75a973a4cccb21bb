"""Sharded training (FSDP) with Accelerate, on GPUs and on CPU ranks, and the full model back.

Under FSDP every rank holds only a shard of each parameter, so anything that needs the whole
model (the zero-shot evaluation hook, the export) must first gather it, and gathering is a
collective: every rank takes part (:meth:`FullModel.gather`), rank 0 receives the full state
dict (``accelerator.get_state_dict``) and loads it into a plain copy of the model made before
sharding; the other ranks wait at the next barrier instead of hanging in a forward pass that
rank 0 runs alone.

Two Accelerate/torch details handled here:

- Accelerate 1.15 turns ``ACCELERATE_USE_FSDP`` into FSDP only for accelerator devices; CPU
  ranks (gloo) silently stay DDP. :func:`enable_fsdp` switches the shared state to FSDP with
  the plugin the launcher configured (torch's ``fully_shard`` itself runs on CPU with gloo).
- ``fully_shard`` refuses 0-dim parameters (``logit_scale``, SigLIP's ``logit_bias``): they
  become 1-element vectors for training and return to their shape in the gathered model.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.state import PartialState
from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

_SCALARS = ("logit_scale", "logit_bias")


def enable_fsdp(accelerator: Accelerator, mixed_precision: str = "no") -> bool:
    """True when this run is sharded; turns the launcher's FSDP request on for CPU ranks."""
    if accelerator.distributed_type == DistributedType.FSDP:
        return True
    requested = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"
    if not requested or accelerator.distributed_type != DistributedType.MULTI_CPU:
        return False
    plugin = FullyShardedDataParallelPlugin()  # reads the launcher's FSDP_* variables
    if mixed_precision != "no":
        plugin.set_mixed_precision(mixed_precision)
    # Both shared states: every new AcceleratorState copies PartialState's fields over its own.
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    accelerator.state.distributed_type = DistributedType.FSDP
    accelerator.state.fsdp_plugin = plugin
    return True


def scalar(tensor: torch.Tensor) -> float:
    """The value of a 0-dim or 1-element parameter, sharded or not (a collective if sharded:
    call it on every rank)."""
    full = tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor
    return float(full.detach().reshape(-1)[0])


class FullModel:
    """The whole model of a sharded run, on rank 0, for evaluation and export.

    Args:
        accelerator: The run's accelerator.
        model: The unwrapped, not yet prepared model.
        sharded: Whether the run uses FSDP; if not, :meth:`gather` returns ``model`` itself.
    """

    def __init__(self, accelerator: Accelerator, model: torch.nn.Module, sharded: bool) -> None:
        self.accelerator, self.model, self.sharded = accelerator, model, sharded
        self.plain: torch.nn.Module | None = None
        if sharded:
            if accelerator.is_main_process:
                self.plain = copy.deepcopy(model)
            for name in _SCALARS:
                param = getattr(model, name, None)
                if isinstance(param, torch.nn.Parameter) and param.dim() == 0:
                    setattr(model, name, torch.nn.Parameter(param.data.reshape(1),
                                                            requires_grad=param.requires_grad))

    def gather(self, prepared: Any) -> torch.nn.Module | None:
        """The full model on rank 0 (None elsewhere); a collective under FSDP."""
        if not self.sharded:
            return self.model
        state = self.accelerator.get_state_dict(prepared)
        if self.plain is None:
            return None
        shapes = {name: t.shape for name, t in self.plain.state_dict().items()}
        self.plain.load_state_dict({k: v.reshape(shapes[k]) for k, v in state.items()})
        return self.plain
