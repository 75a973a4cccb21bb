"""The trained VQA model: frozen CLIP features, RSVQA-style fusion, a small classifier.

As in the RSVQA baseline (ResNet-152 + skip-thoughts, projected to 1200-d, element-wise
product, MLP over the top answers), with CLIP's image and text towers as the frozen encoders:
each embedding is standardised (training mean/std), projected to ``hidden`` with a tanh,
the two are multiplied element-wise and an MLP scores the answer vocabulary (the ``top_answers``
most frequent training answers). Features are computed once and cached, so training the head
is seconds on a CPU. Training uses Accelerate (one process, or ``accelerate launch``).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save
from torch import nn

from rsvl.data.atomic import atomic_open, write_json
from rsvl.errors import ConfigError, InputError
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.vqa.features import question_image_features, question_text_features
from rsvl.models import LoadedModel
from rsvl.vqa.rsvl_format import VqaSet

HEAD_WEIGHTS, HEAD_CONFIG = "vqa_head.safetensors", "vqa_head.json"


class FusionHead(nn.Module):
    """Project image and question to ``hidden``, multiply element-wise, classify with an MLP."""

    def __init__(self, dim: int, hidden: int, answers: int, dropout: float = 0.2):
        super().__init__()
        self.mean_image: torch.Tensor
        self.std_image: torch.Tensor
        self.mean_text: torch.Tensor
        self.std_text: torch.Tensor
        for name, value in (("mean", 0.0), ("std", 1.0)):
            for tower in ("image", "text"):
                self.register_buffer(f"{name}_{tower}", torch.full((dim,), value))
        self.image = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh())
        self.text = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                        nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, answers))

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Answer logits ``[batch, answers]``."""
        image = (image - self.mean_image) / self.std_image
        text = (text - self.mean_text) / self.std_text
        return self.classifier(self.image(image) * self.text(text))


@dataclass
class TrainedHead:
    """A trained fusion head and what it needs to answer.

    Attributes:
        module: The fusion head (CPU, eval mode).
        answers: The answer vocabulary (index -> answer).
        config: Dimensions, training settings, model checksum and loss history.
    """

    module: FusionHead
    answers: list[str]
    config: dict[str, Any] = field(default_factory=dict)

    def protocol(self) -> dict[str, Any]:
        """What a result file records about the head."""
        keys = ("hidden", "top_answers", "epochs", "batch_size", "lr", "seed", "train_split",
                "train_questions", "model_checksum")
        return {"head": {k: self.config.get(k) for k in keys}}


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one CPU thread: the head's matrices are so small that more threads only
    contend (measured: 10x slower with 2 threads on a busy 2-core machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def answer_vocabulary(train: VqaSet, top_answers: int) -> list[str]:
    """The ``top_answers`` most frequent training answers (ties broken alphabetically)."""
    counts = Counter(q.answer for q in train.questions)
    return sorted(counts, key=lambda a: (-counts[a], a))[:top_answers]


def _features(loaded: LoadedModel, dataset: VqaSet, options: FeatureOptions | None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    images = question_image_features(loaded, dataset, options)
    texts = question_text_features(loaded, dataset, options.cache_dir if options else None)
    return images.image, texts, images.readable, images.skipped


def train_vqa_head(
    loaded: LoadedModel,
    train: VqaSet,
    *,
    hidden: int = 256,
    top_answers: int = 100,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    options: FeatureOptions | None = None,
    cpu: bool = True,
) -> TrainedHead:
    """Train the fusion head on ``train``'s questions whose answer is in the vocabulary.

    Args:
        loaded: The frozen CLIP model (its features are cached by checksum).
        train: Training questions.
        hidden: Fusion width.
        top_answers: Answer vocabulary size.
        epochs, batch_size, lr, seed: Optimisation (AdamW, cosine decay).
        options: Image feature batch size and cache folder.
        cpu: Train on the CPU even when an accelerator is present (the head is tiny).

    Raises:
        InputError: No training question has a readable image and a vocabulary answer.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    set_seed(seed)
    answers = answer_vocabulary(train, top_answers)
    label_of = {a: i for i, a in enumerate(answers)}
    image, text, readable, _ = _features(loaded, train, options)
    labels = torch.tensor([label_of.get(q.answer, -1) for q in train.questions])
    keep = readable & (labels >= 0)
    if not keep.any():
        raise InputError(f"{train.root}: no training question of split {train.split} has a "
                         "readable image and an answer; check the split's files")
    image, text, labels = image[keep], text[keep], labels[keep]
    module = FusionHead(image.shape[1], hidden, len(answers))
    for name, values in (("image", image), ("text", text)):
        getattr(module, f"mean_{name}").copy_(values.mean(0))
        getattr(module, f"std_{name}").copy_(values.std(0, unbiased=False).clamp_min(1e-6))
    accelerator = Accelerator(cpu=cpu)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=1e-4, foreach=True)
    batches = _Batches(len(labels), batch_size, seed, accelerator.process_index,
                       accelerator.num_processes)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * len(batches))
    module, optimizer = accelerator.prepare(module, optimizer)
    module.train()
    tensors = tuple(t.to(accelerator.device) for t in (image, text, labels))
    with _one_thread():
        history = _fit(module, optimizer, scheduler, batches, tensors, accelerator, epochs)
    trained = accelerator.unwrap_model(module).cpu().eval()
    types: dict[str, list[str]] = {}
    for q in train.questions:
        if q.answer in label_of and q.answer not in types.setdefault(q.type, []):
            types[q.type].append(q.answer)
    config = {"dim": image.shape[1], "hidden": hidden, "top_answers": top_answers,
              "answers_by_type": {t: sorted(a) for t, a in sorted(types.items())},
              "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
              "train_split": train.split, "train_dataset": train.name,
              "train_questions": int(keep.sum()), "model": str(loaded.spec),
              "model_checksum": loaded.checksum, "loss_history": history}
    return TrainedHead(trained, answers, config)


class _Batches:
    """Shuffled index batches over in-memory features, this process's share of each epoch.

    Indexing the feature tensors directly replaces a DataLoader, whose per-sample fetch and
    collate cost 10x the head's own step. Every process draws the same permutation (seeded
    per epoch) and takes every ``world``-th index, so ranks see disjoint, equal-sized batches.
    """

    def __init__(self, count: int, batch_size: int, seed: int, rank: int, world: int) -> None:
        self.count, self.batch_size, self.seed = count, batch_size, seed
        self.rank, self.world = rank, world
        self.per_rank = count // world

    def __len__(self) -> int:
        return max(1, math.ceil(self.per_rank / self.batch_size))

    def epoch(self, epoch: int) -> list[torch.Tensor]:
        """The index batches of ``epoch``."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.count, generator=generator)
        mine = order[self.rank::self.world][:max(1, self.per_rank)]
        return list(mine.split(self.batch_size))


def _fit(module: Any, optimizer: Any, scheduler: Any, batches: _Batches,
         tensors: tuple[torch.Tensor, ...], accelerator: Any, epochs: int) -> list[float]:
    """The training loop; returns the mean loss of each epoch."""
    image, text, labels = tensors
    history = []
    for epoch in range(epochs):
        total, seen = 0.0, 0
        for index in batches.epoch(epoch):
            batch_labels = labels[index]
            loss = nn.functional.cross_entropy(module(image[index], text[index]), batch_labels)
            optimizer.zero_grad()
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch_labels)
            seen += len(batch_labels)
        history.append(total / seen)
    return history


def predict_head(head: TrainedHead, loaded: LoadedModel, dataset: VqaSet,
                 options: FeatureOptions | None = None) -> tuple[list[str | None], list[str]]:
    """The head's answer to each question (``None`` where the image is unreadable), chosen
    among the training answers of the question's type.

    Raises:
        ConfigError: ``loaded`` is not the model the head was trained on.
    """
    if head.config.get("model_checksum") != loaded.checksum:
        raise ConfigError(f"this VQA head was trained on model {head.config.get('model')} "
                          f"({str(head.config.get('model_checksum'))[:8]}); evaluate it with "
                          f"that model, not {loaded.spec} ({loaded.checksum[:8]})")
    image, text, readable, skipped = _features(loaded, dataset, options)
    with torch.inference_mode(), _one_thread():
        logits = head.module(image, text)
    # The question's type is part of every RSVQA record: only its answers may win.
    index = {a: i for i, a in enumerate(head.answers)}
    allowed = torch.zeros_like(logits, dtype=torch.bool)
    for row, q in enumerate(dataset.questions):
        columns = [index[a] for a in head.config["answers_by_type"].get(q.type, head.answers)]
        allowed[row, columns] = True
    best = logits.masked_fill(~allowed, float("-inf")).argmax(dim=1).tolist()
    return [head.answers[b] if ok else None for b, ok in zip(best, readable.tolist(),
                                                             strict=True)], skipped


def save_head(head: TrainedHead, folder: str | Path) -> Path:
    """Write ``vqa_head.safetensors`` and ``vqa_head.json`` (answers, config) to ``folder``."""
    folder = Path(folder)
    payload = save({k: v.contiguous() for k, v in head.module.state_dict().items()})
    with atomic_open(folder / HEAD_WEIGHTS, "wb") as handle:
        handle.write(payload)
    write_json(folder / HEAD_CONFIG, {"answers": head.answers, **head.config})
    return folder


def load_head(folder: str | Path) -> TrainedHead:
    """Read a head written by :func:`save_head`."""
    folder = Path(folder)
    try:
        config = json.loads((folder / HEAD_CONFIG).read_text())
        state = load_file(str(folder / HEAD_WEIGHTS))
    except (OSError, ValueError) as error:
        raise InputError(f"{folder} holds no readable VQA head ({error}); train one with "
                         "rsvl.evaluation.vqa.head.train_vqa_head and save_head") from None
    answers = config.pop("answers")
    module = FusionHead(config["dim"], config["hidden"], len(answers))
    module.load_state_dict(state)
    return TrainedHead(module.eval(), answers, config)
