"""Parse model specs and load open_clip models with their transforms and tokenizer."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rsvl.data.atomic import read_json
from rsvl.errors import ConfigError, InputError
from rsvl.models.checksum import weights_sha256
from rsvl.models.registry import get_architecture, register_architectures

SpecKind = Literal["scratch", "pretrained_tag", "checkpoint", "export", "hf_hub"]
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
EXPORT_CONFIG = "open_clip_config.json"
HF_HUB_PREFIX = "hf-hub:"
# Text tokens a text tower built here may take (Long-CLIP's 248: long descriptions fit).
MAX_CONTEXT_LENGTH = 248


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec (see :mod:`rsvl.models` for the string forms)."""

    kind: SpecKind
    arch: str | None
    source: str | None

    def __str__(self) -> str:
        if self.kind == "hf_hub":
            return f"{HF_HUB_PREFIX}{self.source}"
        if self.kind == "export":
            return str(self.source)
        return f"{self.arch}" if self.source is None else f"{self.arch}:{self.source}"


@dataclass
class LoadedModel:
    """An open_clip model ready to use, with everything needed to reproduce its inputs.

    Attributes:
        model: The open_clip model, in eval mode, on ``device``.
        preprocess: The validation image transform (PIL image -> tensor).
        preprocess_train: The training image transform.
        tokenizer: Callable turning a list of strings into token ids.
        spec: The parsed spec it was loaded from.
        arch: open_clip architecture name, when known.
        preprocess_cfg: size, mean, std, interpolation and resize mode.
        checksum: sha256 of the weights as loaded (identifies the checkpoint in results).
        device: Where the model lives.
    """

    model: Any
    preprocess: Any
    preprocess_train: Any
    tokenizer: Any
    spec: ModelSpec
    arch: str | None
    preprocess_cfg: dict[str, Any]
    checksum: str
    device: str
    info: dict[str, Any] = field(default_factory=dict)


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse a model spec string; raise one clear line when it cannot name a model."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty model spec; pass e.g. rsvl-tiny, ViT-B-32:openai or a folder")
    if spec.startswith(HF_HUB_PREFIX):
        return ModelSpec("hf_hub", None, spec[len(HF_HUB_PREFIX) :])
    path = Path(spec)
    if path.is_dir():
        if not (path / EXPORT_CONFIG).is_file():
            raise InputError(f"{path} is not an rsvl/open_clip export: {EXPORT_CONFIG} is missing")
        return ModelSpec("export", None, str(path))
    arch, _, source = spec.partition(":")
    if "/" in arch or arch.endswith(CHECKPOINT_SUFFIXES):
        raise InputError(f"model folder or file not found: {spec}")
    get_architecture(arch)
    if not source:
        return ModelSpec("scratch", arch, None)
    if source.endswith(CHECKPOINT_SUFFIXES) or "/" in source:
        if not Path(source).is_file():
            raise InputError(f"checkpoint not found: {source}")
        return ModelSpec("checkpoint", arch, source)
    return ModelSpec("pretrained_tag", arch, source)


def default_device() -> str:
    """CUDA when present, then Apple MPS, else CPU."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def load_clip(
    spec: str | ModelSpec,
    device: str | None = None,
    aug_cfg: dict[str, Any] | None = None,
    seed: int = 0,
    context_length: int = 0,
) -> LoadedModel:
    """Load a model from any supported spec.

    Args:
        spec: A spec string or parsed :class:`ModelSpec`.
        device: ``cuda``, ``mps``, ``cpu``...; picked automatically when None.
        aug_cfg: open_clip augmentation config for ``preprocess_train``.
        seed: Seed of the random initialisation, so a from-scratch model (and its checksum)
            is the same on every load; the caller's global RNG state is left untouched.
        context_length: Text tokens per caption (model and tokenizer); 0 keeps the model's
            own. A text tower built here (from scratch, or for an ``ARCH:PATH`` checkpoint)
            takes up to :data:`MAX_CONTEXT_LENGTH`; a pretrained one (a tag, an export,
            ``hf-hub:``) keeps its own, so only 0 or that length are accepted.

    Returns:
        The model in eval mode with its transforms, tokenizer and checksum.

    Raises:
        ConfigError: ``context_length`` is more than the model can take (the line names the
            limit).
    """
    import open_clip
    import torch

    register_architectures()
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    device = device or default_device()
    name, pretrained = _open_clip_arguments(parsed)
    override = _context_override(parsed, context_length)
    try:
        with torch.random.fork_rng(devices=[]), _quiet_random_init_warning():
            torch.manual_seed(seed)
            model, preprocess_train, preprocess = open_clip.create_model_and_transforms(
                name, pretrained=pretrained, device=device, aug_cfg=aug_cfg,
                force_context_length=override,
            )
    except (RuntimeError, ValueError, OSError, KeyError) as error:
        raise InputError(_explain_load_failure(parsed, error)) from None
    if context_length and override is None:  # an hf-hub tower: its length is known only now
        _check_own_context(parsed, context_length, getattr(model, "context_length", None))
    if parsed.kind == "checkpoint":
        _load_checkpoint_strictly(model, parsed)
    model.eval()
    tokenizer = open_clip.get_tokenizer(name, context_length=override)
    return LoadedModel(
        model=model,
        preprocess=preprocess,
        preprocess_train=preprocess_train,
        tokenizer=tokenizer,
        spec=parsed,
        arch=parsed.arch or _export_arch(parsed),
        preprocess_cfg=dict(open_clip.get_model_preprocess_cfg(model)),
        checksum=weights_sha256(model),
        device=device,
    )


def _context_override(spec: ModelSpec, context_length: int) -> int | None:
    """The context length to build the text tower with (None: the model's own), refusing
    what the spec's tower cannot take."""
    if not context_length:
        return None
    if spec.kind in ("scratch", "checkpoint"):
        if context_length > MAX_CONTEXT_LENGTH:
            raise ConfigError(f"model.context_length={context_length}: {spec} takes at most "
                              f"{MAX_CONTEXT_LENGTH} text tokens")
        return context_length
    _check_own_context(spec, context_length, _configured_context(spec))
    return None


def _configured_context(spec: ModelSpec) -> int | None:
    """The context length of a pretrained tower known before loading it (a tag's
    architecture, an export's config); None for a Hub model."""
    if spec.kind == "pretrained_tag":
        config = get_architecture(str(spec.arch))
    elif spec.kind == "export":
        config = dict(read_json(Path(str(spec.source)) / EXPORT_CONFIG, "export config"))
        config = config.get("model_cfg", {})
    else:
        return None
    return int(config.get("text_cfg", {}).get("context_length", 77))


def _check_own_context(spec: ModelSpec, context_length: int, own: int | None) -> None:
    """A pretrained text tower's positional embedding has its own length: refuse another."""
    if own is not None and context_length != own:
        raise ConfigError(
            f"model.context_length={context_length}: the pretrained text tower of {spec} "
            f"takes at most {own} tokens and keeps its own; set model.context_length=0")


@contextlib.contextmanager
def _quiet_random_init_warning() -> Iterator[None]:
    """Drop open_clip's 'No pretrained weights loaded' warning: a from-scratch spec asks for
    random weights, and a local checkpoint is loaded right after (the warning would mislead)."""

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No pretrained weights loaded")

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _open_clip_arguments(spec: ModelSpec) -> tuple[str, str | None]:
    """The (model_name, pretrained) pair open_clip expects; checkpoints load separately."""
    if spec.kind == "hf_hub":
        return f"{HF_HUB_PREFIX}{spec.source}", None
    if spec.kind == "export":
        return f"local-dir:{spec.source}", None
    assert spec.arch is not None
    return spec.arch, spec.source if spec.kind == "pretrained_tag" else None


def _load_checkpoint_strictly(model: Any, spec: ModelSpec) -> None:
    """Validate names and shapes against the architecture, then let open_clip load it."""
    import open_clip
    from open_clip.factory import load_state_dict

    try:
        state = load_state_dict(spec.source, weights_only=True)
    except Exception as error:  # pickle, zip and safetensors errors have no common base
        raise InputError(
            f"checkpoint {spec.source} cannot be read ({type(error).__name__}: {error}); "
            "is the file complete?"
        ) from None
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items() if name in expected}
    missing = sorted(set(expected) - set(state))
    reshaped = sorted(n for n, shape in found.items() if shape != expected[n])
    if missing or reshaped:
        example = (missing or reshaped)[0]
        raise InputError(
            f"checkpoint {spec.source} does not fit architecture {spec.arch} "
            f"({len(missing)} missing and {len(reshaped)} differently shaped tensors, "
            f"e.g. {example}); pass the architecture (and model.context_length) it was "
            "trained with"
        )
    open_clip.load_checkpoint(model, spec.source, strict=True, weights_only=True)


def _export_arch(spec: ModelSpec) -> str | None:
    from rsvl.models.export import read_export_info

    if spec.kind != "export":
        return None
    return read_export_info(Path(str(spec.source))).get("arch")


def _explain_load_failure(spec: ModelSpec, error: Exception) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if spec.kind in ("pretrained_tag", "hf_hub"):
        return (
            f"could not load {spec} ({reason[:200]}); pretrained weights are downloaded on first "
            "use, which needs network access (unset HF_HUB_OFFLINE), or pass a local checkpoint "
            "as ARCH:PATH"
        )
    return f"could not load model {spec}: {reason[:300]}"
