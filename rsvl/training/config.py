"""Training configuration: dataclasses, loaded from JSON/YAML files plus dotted overrides.

A config file holds sections ``model``, ``data``, ``augment``, ``optim``, ``loss``, ``run`` and
``eval`` (every key optional; defaults below). Overrides on the command line use dotted keys,
``--set optim.lr=1e-4 --set run.max_steps=50``. Unknown sections or keys are rejected with one
line naming the file and the nearest valid key, so a typo never silently trains with a default.
Reading, overrides and key/type checks are the shared :mod:`rsvl.config`; this module holds the
training dataclasses and the checks types alone cannot make (:func:`validate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsvl import config as config_data
from rsvl.errors import ConfigError


@dataclass
class ModelConfig:
    """Which model to train and which parts of it stay frozen.

    Attributes:
        spec: A model spec (see :mod:`rsvl.models`): ``rsvl-tiny``, ``ViT-B-32:openai``, a folder...
        grad_checkpointing: Recompute activations in backward (less memory, ~30% slower).
        lock_text: Freeze the whole text tower.
        lock_image_blocks: Freeze the patch embedding and the first N image transformer blocks.
        context_length: Text tokens per caption (tokenizer and text tower); 0 keeps the
            model's own. A model trained from scratch (``rsvl-tiny``) or from an ``ARCH:PATH``
            checkpoint takes up to :data:`rsvl.models.MAX_CONTEXT_LENGTH` (248); a pretrained
            text tower (``ViT-B-32:openai``, an export, ``hf-hub:``) keeps its own (77 for the
            OpenAI and LAION towers).
    """

    spec: str = "rsvl-tiny"
    grad_checkpointing: bool = False
    lock_text: bool = False
    lock_image_blocks: int = 0
    context_length: int = 0


@dataclass
class DataConfig:
    """Where training pairs come from and how they are batched.

    Attributes:
        train: A shard folder (``sizes.json`` + tars), a Parquet file (``train.parquet``) or a
            mixture file (``.json``, see :mod:`rsvl.data.mixtures`) naming several datasets
            with sampling weights.
        source: ``auto`` (by path), ``shards``, ``parquet`` or ``mixture``.
        batch_size: Samples per process per micro-batch.
        workers: DataLoader worker processes per training process.
        shuffle_buffer: Samples held in the shuffle buffer of each worker (of each dataset of a
            mixture, per worker).
        cache_mb: Memory (MiB, per worker) that keeps fully read shards' undecoded samples
            for the next passes, so a set smaller than this is read from disk once however
            many epochs it trains for; 0 reads every pass from disk.
        captions: Which captions a visit trains on: ``short`` (the record's captions),
            ``long`` (its long descriptions; samples without any use their short ones, counted
            in the log) or ``mixed`` (a long one with probability 0.5 when the sample has
            them, else a short one). Long descriptions may need a longer
            ``model.context_length``.
        caption_choice: ``random`` (one of the pool's captions per visit) or ``first``.
        split: Train only on records of this split (built shards hold every split, so the
            default keeps val/test chips out of training); empty trains on everything. A
            mixture chooses splits per dataset in its file, so it needs the default here.
    """

    train: str = ""
    source: str = "auto"
    batch_size: int = 64
    workers: int = 0
    shuffle_buffer: int = 1000
    cache_mb: int = 256
    captions: str = "short"
    caption_choice: str = "random"
    split: str = "train"


@dataclass
class AugmentConfig:
    """Remote-sensing augmentations (SkyScript: 90-degree rotations, jitter 0.4, crop 0.67-1).

    Attributes:
        rotate90: Rotate by a random multiple of 90 degrees (overhead imagery has no "up").
        hflip: Random horizontal flip.
        vflip: Random vertical flip.
        color_jitter: Brightness, contrast and saturation strength (0 disables).
        hue: Hue jitter strength (0 disables).
        crop_scale: Area range of the random resized crop; ``[1, 1]`` disables cropping.
    """

    rotate90: bool = True
    hflip: bool = True
    vflip: bool = True
    color_jitter: float = 0.4
    hue: float = 0.1
    crop_scale: list[float] = field(default_factory=lambda: [0.67, 1.0])


@dataclass
class OptimConfig:
    """AdamW, warm-up plus cosine learning rate, clipping, gradient accumulation.

    Attributes:
        lr: Peak learning rate.
        min_lr: Learning rate at the end of the cosine.
        weight_decay: Decay of weight matrices (never of biases, norms, embeddings, logit scale).
        betas: AdamW betas.
        eps: AdamW epsilon.
        warmup_steps: Linear warm-up length in optimizer steps.
        grad_clip: Max global gradient norm (0 disables).
        accum_steps: Micro-batches per optimizer step; the contrastive batch spans all of them.
    """

    lr: float = 5e-4
    min_lr: float = 0.0
    weight_decay: float = 0.2
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    eps: float = 1e-6
    warmup_steps: int = 1000
    grad_clip: float = 1.0
    accum_steps: int = 1


@dataclass
class LossConfig:
    """The contrastive loss (see :mod:`rsvl.training.loss`).

    Attributes:
        kind: ``clip`` (symmetric softmax InfoNCE over the gathered global batch) or
            ``siglip`` (sigmoid loss with a learnable bias; text features pass round the
            ranks instead of gathering the whole similarity matrix).
        local_loss: CLIP: each rank scores its own rows against all columns (less memory,
            same gradients); False scores the full gathered matrix on every rank. SigLIP
            always scores local rows.
        max_logit_scale: The learnable temperature's exp is clamped to at most this.
        region_weight: Weight of the region-level loss (:mod:`rsvl.training.regions`) added to
            the contrastive one; 0 disables it. It needs shards with ``regions.json`` members
            (``rsvl build captions``), an open_clip ViT without patch dropout, and no FSDP.
        region_max_per_image: Regions per image the region loss keeps (largest first).
        region_min_patches: Regions covering fewer patches (after augmentation) are dropped.
    """

    kind: str = "clip"
    local_loss: bool = False
    max_logit_scale: float = 100.0
    region_weight: float = 0.0
    region_max_per_image: int = 8
    region_min_patches: float = 1.0


@dataclass
class RunConfig:
    """Length, precision, checkpoints and logging of a run.

    Attributes:
        out_dir: Run folder (``step_N/`` states, ``log.jsonl``, ``tensorboard/``, ``export/``).
        epochs: Passes over the training set (an epoch is ``samples // global batch`` steps).
        max_steps: Stop after this many optimizer steps instead (0: use ``epochs``).
        seed: Seeds model initialisation, data order and augmentations.
        mixed_precision: ``no``, ``bf16`` (autocast on CPU and GPU) or ``fp16`` (GPU).
        save_every: Save a resumable state every N optimizer steps (0: only at the end).
        keep_last: How many ``step_N`` states to keep.
        log_every: Log loss and throughput every N optimizer steps.
        trackers: Accelerate trackers besides the JSONL log (``tensorboard``, ``wandb``...).
        log_ranks: Also write ``ranks/rank{R}.jsonl`` with each rank's sample keys and weight
            hash per step (to verify a distributed run; costs a hash per step).
        progress: Show a tqdm progress bar on the main process.
        export: Export the final model to ``out_dir/export``.
    """

    out_dir: str = "runs/tiny"
    epochs: int = 1
    max_steps: int = 0
    seed: int = 0
    mixed_precision: str = "no"
    save_every: int = 0
    keep_last: int = 2
    log_every: int = 10
    trackers: list[str] = field(default_factory=lambda: ["tensorboard"])
    log_ranks: bool = False
    progress: bool = True
    export: bool = True


@dataclass
class EvalConfig:
    """Optional zero-shot classification during training (``rsvl.evaluation``).

    Attributes:
        every_steps: Evaluate every N optimizer steps (0 disables).
        dataset: A class-folder validation set, or a registered benchmark name.
        root: Where a registered benchmark lives (empty: its default place).
        templates: Prompt templates; ``{c}`` is replaced by the class name.
        max_images: Evaluate a fixed random subset of at most this many images.
    """

    every_steps: int = 0
    dataset: str = ""
    root: str = ""
    templates: list[str] = field(
        default_factory=lambda: ["a satellite photo of {c}.", "a satellite image of {c}"]
    )
    max_images: int = 2000


@dataclass
class TrainConfig:
    """The whole training configuration (one section per concern)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    run: RunConfig = field(default_factory=RunConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-serialisable data."""
        return config_data.to_dict(self)


_CHOICES: dict[str, tuple[str, ...]] = {
    "data.source": ("auto", "shards", "parquet", "mixture"),
    "data.captions": ("short", "long", "mixed"),
    "data.caption_choice": ("random", "first"),
    "data.split": ("train", "val", "test", ""),
    "run.mixed_precision": ("no", "bf16", "fp16"),
    "loss.kind": ("clip", "siglip"),
}


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a JSON or YAML config file, apply ``section.key=value`` overrides, validate.

    Args:
        path: Config file (``.json``, ``.yaml``/``.yml``); None starts from the defaults.
        overrides: Dotted assignments; values are parsed as JSON when possible
            (``optim.lr=1e-4``, ``augment.crop_scale=[0.8,1]``), else taken as strings.

    Returns:
        The validated config.

    Raises:
        ConfigError: One line naming the file and key for any unknown key or bad value.
    """
    origin = str(path) if path is not None else "defaults"
    for assignment in overrides:
        if assignment.partition("=")[0].strip().count(".") != 1:
            raise ConfigError(
                f"override {assignment!r} is not section.key=value (e.g. optim.lr=1e-4)"
            )
    config = config_data.load(TrainConfig, path, overrides)
    validate(config, origin)
    return config


def validate(config: TrainConfig, origin: str = "config") -> None:
    """Check values that types alone cannot (choices, ranges); raise one line on failure."""
    flat = {f"{s}.{k}": v for s, section in config.to_dict().items() for k, v in section.items()}
    if flat["data.captions"] in _CHOICES["data.caption_choice"]:  # the key's old meaning
        raise ConfigError(
            f"{origin}: data.captions={flat['data.captions']!r} is now "
            f"data.caption_choice={flat['data.captions']}; data.captions chooses short, long "
            "or mixed")
    for key, choices in _CHOICES.items():
        if flat[key] not in choices:
            raise ConfigError(f"{origin}: {key}={flat[key]!r}; expected one of {list(choices)}")
    positive = ("data.batch_size", "optim.accum_steps", "run.keep_last", "run.log_every")
    for key in positive:
        if flat[key] < 1:
            raise ConfigError(f"{origin}: {key} must be at least 1, got {flat[key]}")
    low, high = config.augment.crop_scale if len(config.augment.crop_scale) == 2 else (0, -1)
    if not 0 < low <= high <= 1:
        raise ConfigError(
            f"{origin}: augment.crop_scale must be [low, high] with 0 < low <= high <= 1"
        )
    _validate_data_source(config.data, origin)
    _validate_region_loss(config, origin)
    if config.model.context_length < 0:
        raise ConfigError(f"{origin}: model.context_length must be 0 (the model's own) or "
                          f"positive, got {config.model.context_length}")
    if config.eval.every_steps and not config.eval.dataset:
        raise ConfigError(f"{origin}: eval.every_steps is set but eval.dataset is empty")
    if config.run.epochs < 1 and config.run.max_steps < 1:
        raise ConfigError(f"{origin}: set run.epochs or run.max_steps to at least 1")


def _validate_region_loss(config: TrainConfig, origin: str) -> None:
    """Refuse region-loss settings out of range, or with a data source it cannot read."""
    loss = config.loss
    if loss.region_weight < 0 or loss.region_min_patches < 0:
        raise ConfigError(f"{origin}: loss.region_weight and loss.region_min_patches must be at "
                          f"least 0, got {loss.region_weight} and {loss.region_min_patches}")
    if loss.region_max_per_image < 1:
        raise ConfigError(f"{origin}: loss.region_max_per_image must be at least 1, got "
                          f"{loss.region_max_per_image}")
    if loss.region_weight > 0 and (config.data.source == "mixture"
                                   or Path(config.data.train).suffix == ".json"):
        raise ConfigError(f"{origin}: loss.region_weight > 0 reads regions from a shard folder "
                          "or Parquet file, not a mixture; train on one dataset or set "
                          "loss.region_weight=0")


def _validate_data_source(data: DataConfig, origin: str) -> None:
    """Refuse a ``data`` section whose source is ambiguous (mixture files choose their splits)."""
    json_path = Path(data.train).suffix == ".json"
    if data.source in ("shards", "parquet") and json_path:
        raise ConfigError(
            f"{origin}: data.train={data.train!r} is a mixture file but data.source="
            f"{data.source}; set data.source=auto or mixture"
        )
    if data.source == "mixture" and not json_path:
        raise ConfigError(
            f"{origin}: data.source=mixture needs data.train to be a mixture .json file, "
            f"got {data.train!r}"
        )
    if (data.source == "mixture" or json_path) and data.split != "train":
        raise ConfigError(
            f"{origin}: data.split={data.split!r} with a mixture; a mixture file chooses splits "
            "per dataset ('splits'), so leave data.split at its default"
        )
