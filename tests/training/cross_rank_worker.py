"""One rank of the cross-rank loss check (launched on 2 CPU ranks by test_loss.py).

Every rank builds the same model and the same global batch of 16 pairs, trains on its own
rank-major slice through DDP exactly as the trainer does (``accumulated_backward``,
``accelerator.backward``, ``no_sync``), and compares the rank-averaged loss and the averaged
gradients with a single process scoring the whole concatenated batch. Writes
``OUT.rank{R}.json``.
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

import torch
from accelerate import Accelerator

from rsvl.models import load_clip
from rsvl.training.loss import accumulated_backward, make_loss, prepare_model_for_loss

CASES = [("clip", False, 1), ("clip", False, 2), ("clip", True, 1), ("clip", True, 2),
         ("siglip", False, 1), ("siglip", False, 2)]


def encoder(model: Any) -> Any:
    def encode(images: torch.Tensor, texts: torch.Tensor) -> tuple[Any, ...]:
        output = model(images, texts)
        return output[0], output[1], output[2], output[3] if len(output) > 3 else None
    return encode


def gradients(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()
            if p.grad is not None}


def main(out: str) -> None:
    accelerator = Accelerator(cpu=True)
    world, rank = accelerator.num_processes, accelerator.process_index
    loaded = load_clip("rsvl-micro", device="cpu", seed=0)
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(16, 3, 32, 32, generator=generator)
    texts = loaded.tokenizer([f"a satellite image of thing {i}" for i in range(16)])
    share = 16 // world
    mine = slice(rank * share, (rank + 1) * share)
    results: dict[str, Any] = {"world": world}
    for kind, local, accum in CASES:
        model = copy.deepcopy(loaded.model).train()
        prepare_model_for_loss(model, kind)
        reference = copy.deepcopy(model)
        expected = accumulated_backward(encoder(reference), [(images, texts)],
                                        make_loss(0, 1, False, kind), lambda x: x.backward())
        with torch.no_grad():  # the loss of this rank's pairs alone: fewer negatives
            alone = float(make_loss(0, 1, False, kind)(*encoder(reference)(images[mine],
                                                                           texts[mine])))
        ddp = accelerator.prepare(model)
        step = share // accum
        micro = [(images[mine][i:i + step], texts[mine][i:i + step])
                 for i in range(0, share, step)]
        loss = accumulated_backward(encoder(ddp), micro, make_loss(rank, world, local, kind),
                                    accelerator.backward,
                                    no_sync=lambda model=ddp: accelerator.no_sync(model))
        mean = float(accelerator.reduce(torch.tensor(loss), reduction="mean"))
        got, want = gradients(accelerator.unwrap_model(ddp)), gradients(reference)
        results[f"{kind}-local{int(local)}-accum{accum}"] = {
            "loss": mean, "expected": expected, "own_batch_only": alone,
            "same_parameters": sorted(got) == sorted(want),
            "max_grad_diff": max(float((got[n] - want[n]).abs().max()) for n in want),
            "max_grad": max(float(want[n].abs().max()) for n in want),
        }
    with open(f"{out}.rank{rank}.json", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
