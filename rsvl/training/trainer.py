"""The training loop: Accelerate, exact resume, trackers, periodic eval, final export.

One function, :func:`train`, runs unchanged in one process on CPU, on one GPU, and under
``accelerate launch`` on many GPUs or nodes. The run folder holds:

- ``config.json``: the resolved config (a resumed run must match it);
- ``step_N/``: ``accelerator.save_state`` + ``trainer_state.json`` (written last, renamed into
  place, so a folder named ``step_N`` is always complete); the last ``run.keep_last`` are kept;
- ``log.jsonl`` (JSONL tracker) and ``tensorboard/``; ``ranks/rank{R}.jsonl`` when
  ``run.log_ranks`` is on;
- ``export/``: the final model (open_clip config + safetensors + provenance).

With ``loss.region_weight > 0`` the step adds the region loss (:mod:`rsvl.training.regions`):
the batch's phrases go through the text tower as extra rows of the same forward pass, the patch
tokens are tapped from the image tower's pass (:class:`rsvl.models.patches.PatchTap`), and the
log has ``loss_region`` (unweighted) and ``regions_per_batch`` beside ``loss`` (the total).

Resuming restores weights, optimizer and step from the newest ``step_N``; the data position is
a pure function of the step (see :mod:`rsvl.training.data`; mixture files too), so a resumed CPU
run reproduces the uninterrupted run's losses exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.tracking import GeneralTracker
from accelerate.utils import set_seed

from rsvl.data.atomic import write_json
from rsvl.errors import ConfigError
from rsvl.models import export_model, load_clip
from rsvl.models.checksum import weights_sha256
from rsvl.training.augment import ImageTransform
from rsvl.training.config import TrainConfig
from rsvl.training.data import (
    CaptionTokens,
    ContrastiveStream,
    MixtureStream,
    open_training_data,
    require_regions,
    steps_per_epoch,
)
from rsvl.training.eval_hook import zero_shot_metrics
from rsvl.training.loss import accumulated_backward, make_loss, prepare_model_for_loss
from rsvl.training.optim import (
    apply_model_options,
    build_optimizer,
    clamp_logit_scale,
    lr_at,
    set_lr,
)
from rsvl.training.regions import RegionOptions, region_loss, region_tap
from rsvl.training.sharding import FullModel, enable_fsdp, scalar

STATE_FILE = "trainer_state.json"
# Sections that fix the data order and the optimisation: a resumed run must not change them.
_RESUME_SECTIONS = ("model", "data", "augment", "optim", "loss")


class JsonlTracker(GeneralTracker):
    """Accelerate tracker appending one JSON object per ``log`` call to a file."""

    name = "jsonl"
    requires_logging_directory = False

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)

    @property
    def tracker(self) -> Path:
        return self.path

    def store_init_configuration(self, values: dict[str, Any]) -> None:
        self.log({"event": "start", **values})

    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"step": step, "time": round(time.time(), 3), **values}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")


@dataclass
class TrainResult:
    """What a finished run reports: final step, logged losses, and where it wrote."""

    step: int
    losses: dict[int, float] = field(default_factory=dict)
    out_dir: Path = Path()
    export_dir: Path | None = None
    num_processes: int = 1


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete ``step_N`` folder of a run, or None."""
    complete = [
        p for p in Path(out_dir).glob("step_*")
        if p.name[5:].isdigit() and (p / STATE_FILE).is_file()
    ]
    return max(complete, key=lambda p: int(p.name[5:]), default=None)


def train(config: TrainConfig) -> TrainResult:
    """Train as configured, resuming from the run folder's newest checkpoint if there is one."""
    run = config.run
    out_dir = Path(run.out_dir)
    use_cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes") or (
        not torch.cuda.is_available()
    )
    accelerator = Accelerator(
        cpu=use_cpu,
        mixed_precision=run.mixed_precision,
        log_with=[JsonlTracker(out_dir / "log.jsonl"), *run.trackers],
        project_dir=str(out_dir / "tensorboard"),
    )
    sharded = enable_fsdp(accelerator, run.mixed_precision)
    set_seed(run.seed)
    # run.seed also seeds a from-scratch model's initial weights (pretrained ones ignore it).
    loaded = load_clip(config.model.spec, device="cpu", seed=run.seed,
                       context_length=config.model.context_length)
    if loaded.arch is None:
        raise ConfigError(f"model.spec {config.model.spec}: architecture unknown, cannot export")
    model = loaded.model
    model.train()
    apply_model_options(model, config.model)
    prepare_model_for_loss(model, config.loss.kind)
    full = FullModel(accelerator, model, sharded)  # before the optimizer sees the parameters

    data = config.data
    # The one decision of what this run may see (split, removed.json, mixture membership).
    training = open_training_data(data.train, data.source, data.split)
    mixture, units = training.mixture, training.units
    region_weight = config.loss.region_weight
    # Refused before anything is written: FSDP, patch dropout, no patch tokens, no regions.
    tap = None
    if region_weight > 0:
        tap = region_tap(model, config.model.spec, sharded)
        require_regions(units)
    world = accelerator.num_processes
    accum = config.optim.accum_steps
    global_batch = config.data.batch_size * world * accum
    epoch_steps = steps_per_epoch(training.num_samples, global_batch)
    total_steps = run.max_steps or run.epochs * epoch_steps

    optimizer = build_optimizer(model, config.optim)
    model, optimizer = accelerator.prepare(model, optimizer)
    step = _resume(accelerator, config, out_dir)
    accelerator.init_trackers("rsvl", config={
        **_flat(config, world, epoch_steps, total_steps), **training.start_fields()})
    for line in training.describe():
        accelerator.print(line, flush=True)

    size = loaded.preprocess_cfg["size"]
    size = size if isinstance(size, int) else size[0]
    mean, std = loaded.preprocess_cfg["mean"], loaded.preprocess_cfg["std"]
    train_transform = ImageTransform(size, mean, std, config.augment)
    loss_fn = make_loss(accelerator.process_index, world, config.loss.local_loss,
                        config.loss.kind)
    unwrapped = accelerator.unwrap_model(model)
    result = TrainResult(step=step, out_dir=out_dir, num_processes=world)
    progress = _progress(accelerator, run.progress, total_steps, step)
    corrupt = 0
    no_long = _NoLongCaptions()
    window_start, window_steps = time.perf_counter(), 0

    def encode(images: torch.Tensor, texts: torch.Tensor) -> tuple[Any, Any, Any, Any]:
        output = model(images, texts)
        if isinstance(output, dict):
            return (output["image_features"], output["text_features"], output["logit_scale"],
                    output.get("logit_bias"))
        return output[0], output[1], output[2], output[3] if len(output) > 3 else None

    region_terms: list[float] = []  # this step's region loss per micro-batch, for the log

    def encode_with_regions(images: torch.Tensor, texts: torch.Tensor,
                            regions: dict[str, torch.Tensor]) -> tuple[Any, ...]:
        """One forward pass for captions and the batch's phrases (the text tower sees them as
        extra rows), the patch tokens tapped from it; the weighted region loss as extra term."""
        assert tap is not None
        captions = len(texts)
        phrases = regions["text"]
        if len(phrases):
            texts = torch.cat([texts, phrases.to(texts.device)])
        image_features, text_features, scale, bias = encode(images, texts)
        if not torch.is_grad_enabled():  # accumulation's caching pass: features only
            return image_features, text_features[:captions], scale, bias
        term = region_loss(tap.patches(images.shape), regions["coverage"], regions["image"],
                           text_features[captions:], regions["label"], scale)
        region_terms.append(float(term.detach()))
        return image_features, text_features[:captions], scale, bias, region_weight * term

    grid = size // unwrapped.visual.patch_size[0] if tap else 0
    stream_options: dict[str, Any] = dict(
        rank=accelerator.process_index, world_size=world, batch_size=data.batch_size,
        transform=train_transform, tokenizer=CaptionTokens(loaded.tokenizer), seed=run.seed,
        epoch_batches=epoch_steps * accum, start_batch=step * accum,
        shuffle_buffer=data.shuffle_buffer, captions=data.captions,
        caption_choice=data.caption_choice, split=data.split,
        cache_bytes=data.cache_mb << 20, sample_filter=training.sample_filter,
        regions=RegionOptions(grid, config.loss.region_min_patches,
                              config.loss.region_max_per_image) if tap else None,
    )
    stream = (MixtureStream(mixture, **stream_options) if mixture
              else ContrastiveStream(units, **stream_options))
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, num_workers=config.data.workers, pin_memory=not use_cpu,
    )
    # The loader draws its base seed from torch's RNG; a resumed run restored that RNG from the
    # checkpoint, after the draw an uninterrupted run made at step 0, so it must not draw again.
    restored_rng = torch.get_rng_state() if step else None
    batches = iter(loader)
    if restored_rng is not None:
        torch.set_rng_state(restored_rng)
    while step < total_steps:
        epoch = step // epoch_steps
        micro = [next(batches) for _ in range(accum)]
        corrupt += sum(int(b["corrupt"]) for b in micro)
        no_long.add(micro)
        lr = lr_at(step, config.optim.lr, config.optim.warmup_steps, total_steps,
                   config.optim.min_lr)
        set_lr(optimizer, lr)
        device = accelerator.device
        inputs = [(b["image"].to(device), b["text"].to(device),
                   *([{k: v.to(device) for k, v in b["regions"].items()}] if tap else []))
                  for b in micro]
        region_terms.clear()
        loss = accumulated_backward(
            encode_with_regions if tap else encode, inputs, loss_fn, accelerator.backward,
            no_sync=lambda: accelerator.no_sync(model), autocast=accelerator.autocast,
        )
        if world > 1:  # a rank's value is its share (local_loss, SigLIP): log the global one
            loss = float(accelerator.reduce(
                torch.tensor(loss, device=accelerator.device), reduction="mean"))
        if config.optim.grad_clip > 0:
            accelerator.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        clamp_logit_scale(unwrapped, config.loss.max_logit_scale)
        step += 1
        window_steps += 1
        result.losses[step] = loss
        if run.log_ranks:
            _log_rank(out_dir, accelerator, step, micro, None if sharded else unwrapped)
        if step % run.log_every == 0 or step == total_steps:
            elapsed = time.perf_counter() - window_start
            speed = window_steps * global_batch / max(elapsed, 1e-9)
            total_corrupt = int(accelerator.reduce(
                torch.tensor(corrupt, device=accelerator.device), reduction="sum"))
            accelerator.log({
                "loss": loss, "lr": lr, "epoch": epoch, "samples_per_s": round(speed, 2),
                "logit_scale": math.exp(scalar(unwrapped.logit_scale)), **_bias(unwrapped),
                "corrupt_samples": total_corrupt, "num_processes": world,
                **(_region_fields(accelerator, region_terms, micro) if tap else {}),
            }, step=step)
            progress.set_postfix(loss=f"{loss:.4f}", samples_s=f"{speed:.0f}")
            window_start, window_steps = time.perf_counter(), 0
        progress.update(1)
        if config.eval.every_steps and step % config.eval.every_steps == 0:
            _evaluate(accelerator, config, loaded, step, full.gather(model))
        if run.save_every and step % run.save_every == 0 and step < total_steps:
            save_checkpoint(accelerator, out_dir, step, run.keep_last)
    del batches, loader
    if tap:
        tap.close()
    progress.close()
    if data.captions != "short":
        no_long.report(accelerator, step)
    save_checkpoint(accelerator, out_dir, step, run.keep_last)
    whole = full.gather(model) if run.export else None  # every rank: a collective under FSDP
    if whole is not None and accelerator.is_main_process:
        result.export_dir = export_model(whole, loaded.arch, out_dir / "export", {
            "config": config.to_dict(), "steps": step, "parent": str(loaded.spec),
            "parent_sha256": loaded.checksum, "data": config.data.train,
        })
    accelerator.wait_for_everyone()
    accelerator.end_training()
    result.step = step
    return result


def _region_fields(accelerator: Accelerator, terms: list[float], micro: list[dict[str, Any]]
                   ) -> dict[str, float]:
    """The step's region loss (mean over micro-batches and ranks, unweighted) and how many
    regions a rank's micro-batch held on average, for the log."""
    regions = sum(len(b["regions"]["label"]) for b in micro) / len(micro)
    values = torch.tensor([sum(terms) / max(len(terms), 1), regions], device=accelerator.device)
    if accelerator.num_processes > 1:
        values = accelerator.reduce(values, reduction="mean")
    return {"loss_region": float(values[0]), "regions_per_batch": float(values[1])}


class _NoLongCaptions:
    """Counts the visits (and distinct samples) that wanted a long caption and trained on a
    short one because the sample has none; reported once, at the end of the run."""

    def __init__(self) -> None:
        self.visits = 0
        self.keys: set[str] = set()

    def add(self, micro: list[dict[str, Any]]) -> None:
        for batch in micro:
            self.visits += len(batch["no_long"])
            self.keys.update(batch["no_long"])

    def report(self, accelerator: Accelerator, step: int) -> None:
        """Log the run's totals over every rank (a collective: every rank calls it)."""
        from accelerate.utils import gather_object

        visits = int(accelerator.reduce(
            torch.tensor(self.visits, device=accelerator.device), reduction="sum"))
        samples = len(set(gather_object(sorted(self.keys))))
        accelerator.log({"event": "long_captions", "no_long_caption_samples": samples,
                         "no_long_caption_visits": visits}, step=step)
        accelerator.print(f"{samples} sample(s) without long captions trained on short ones "
                          f"({visits} visits)", flush=True)


def _bias(model: Any) -> dict[str, float]:
    """The SigLIP bias for the log (models without one log nothing)."""
    bias = getattr(model, "logit_bias", None)
    return {} if bias is None else {"logit_bias": scalar(bias)}


def save_checkpoint(accelerator: Accelerator, out_dir: Path, step: int, keep_last: int) -> Path:
    """Save a resumable state as ``step_N`` (complete or absent) and prune old ones."""
    final = out_dir / f"step_{step}"
    staging = out_dir / f".step_{step}.partial"
    if accelerator.is_main_process and staging.exists():
        shutil.rmtree(staging)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_json(staging / STATE_FILE, {"step": step})
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        steps = sorted(int(p.name[5:]) for p in out_dir.glob("step_*") if p.name[5:].isdigit())
        for old in steps[:-keep_last]:
            shutil.rmtree(out_dir / f"step_{old}", ignore_errors=True)
        accelerator.print(f"saved {final.name}", flush=True)
    accelerator.wait_for_everyone()
    return final


def _resume(accelerator: Accelerator, config: TrainConfig, out_dir: Path) -> int:
    """Restore the newest checkpoint (checking the config still matches); return its step."""
    saved_config = out_dir / "config.json"
    if saved_config.is_file():
        saved = json.loads(saved_config.read_text())
        current = config.to_dict()
        for section in _RESUME_SECTIONS:
            for key, value in current[section].items():
                if saved.get(section, {}).get(key) != value:
                    raise ConfigError(
                        f"{saved_config}: {section}.{key} was {saved[section].get(key)!r}, now "
                        f"{value!r}; a run resumes only with the same settings (new run.out_dir?)"
                    )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_json(saved_config, config.to_dict())
    checkpoint = latest_checkpoint(out_dir)
    if checkpoint is None:
        return 0
    accelerator.load_state(str(checkpoint))
    step = int(json.loads((checkpoint / STATE_FILE).read_text())["step"])
    accelerator.print(f"resumed from {checkpoint} at step {step}", flush=True)
    return step


def _flat(config: TrainConfig, world: int, epoch_steps: int, total_steps: int) -> dict[str, Any]:
    """Hyper-parameters as flat scalars (TensorBoard's hparams accept nothing else)."""
    flat: dict[str, Any] = {
        f"{section}.{key}": value if isinstance(value, bool | int | float | str) else str(value)
        for section, values in config.to_dict().items()
        for key, value in values.items()
    }
    flat.update(num_processes=world, steps_per_epoch=epoch_steps, total_steps=total_steps)
    return flat


def _progress(accelerator: Accelerator, enabled: bool, total: int, initial: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step",
                disable=not (enabled and accelerator.is_local_main_process))


def _log_rank(
    out_dir: Path, accelerator: Accelerator, step: int, micro: list[dict[str, Any]], model: Any
) -> None:
    """Per-rank evidence for distributed checks: sample keys and a hash of the weights (None
    when ``model`` is None: a sharded rank holds no whole weights to hash)."""
    path = out_dir / "ranks" / f"rank{accelerator.process_index}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "step": step, "rank": accelerator.process_index,
        "num_processes": accelerator.num_processes,
        "keys": [key for batch in micro for key in batch["keys"]],
        "weights_sha256": weights_sha256(model) if model is not None else None,
    }
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def _evaluate(accelerator: Accelerator, config: TrainConfig, loaded: Any, step: int,
              model: Any) -> None:
    """The eval hook: zero-shot metrics of ``model`` (the whole model, on the main process;
    gathered by every rank under FSDP), logged at ``step``; the other ranks wait."""
    if accelerator.is_main_process:
        current = dataclasses.replace(loaded, model=model, device=str(accelerator.device))
        metrics = zero_shot_metrics(current, config.eval)
        accelerator.log(metrics, step=step)
        accelerator.print(f"step {step}: zero-shot acc1 {metrics['zero_shot_acc1']:.3f}")
    accelerator.wait_for_everyone()
