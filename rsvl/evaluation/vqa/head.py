"""The trained VQA model: frozen CLIP features, RSVQA-style fusion, a small classifier.

As in the RSVQA baseline (ResNet-152 + skip-thoughts, projected to 1200-d, element-wise
product, MLP over the top answers), with CLIP's image and text towers as the frozen encoders.
Two measured weaknesses of that recipe on small remote-sensing splits (the RSVQA-LR sample,
split by image; a high-resolution split) shape this head:

- the question alone carries most answers, and a product-fusion head trained end to end did not
  even learn those priors (below the per-type majority answer). So the head is a sum: a
  *question prior* (question -> answer logits, output bias initialised to the training answers'
  log frequencies) plus *image evidence* (the RSVQA fusion: image and question projected,
  multiplied, classified), and logits are restricted to the question type's answers when
  training as when predicting;
- with few training images, the fusion memorises each image's answers at once and generalises
  worse than the question alone. So training has two stages, both on the training images minus
  a held-out share (``val_fraction``, split by image, never by question): the question prior,
  then the evidence on top of the frozen prior, kept at the epoch of best held-out accuracy
  among those that beat the prior significantly (sign test). The evidence is trained twice,
  once on a constant image (exactly the question-only baseline's) and once on the real image;
  the image is used only when it beats the constant significantly on the held-out images, else
  the head is the question-only head and its config says so (``uses_image``). The prior never
  sees the held-out images, so the held-out comparison is fair to the image.

The question is represented by its CLIP text embedding, its words (a bag of the training
questions' words: random and small text towers barely tell apart two questions that differ in
one object name) and its type. The question-only baseline is this same code with every image
replaced by a constant (``question_only=True``). Features are computed once and cached, so
training is seconds on a CPU; Accelerate runs it (one process, or ``accelerate launch``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save
from torch import nn

from rsvl.data.atomic import atomic_open, write_json
from rsvl.errors import ConfigError, InputError
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.vqa.answers import scored_answer
from rsvl.evaluation.vqa.features import question_image_features, question_text_features
from rsvl.models import LoadedModel
from rsvl.vqa.rsvl_format import VqaQuestion, VqaSet

HEAD_WEIGHTS, HEAD_CONFIG = "vqa_head.safetensors", "vqa_head.json"
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class HeadRecipe:
    """How the head is trained (the CLI's ``--hidden``, ``--epochs``... come from here).

    Attributes:
        hidden: Fusion width.
        top_answers: Answer vocabulary size (most frequent training answers).
        epochs: Epochs of each stage (the image stage stops earlier when held-out accuracy
            stops improving for ``patience`` epochs).
        batch_size: Questions per step.
        lr: Peak learning rate (AdamW, cosine decay).
        val_fraction: Share of the training images held out to decide how long the image
            evidence trains (0: no hold-out, the image stage runs every epoch).
        patience: Image-stage epochs without a held-out improvement before stopping.
    """

    hidden: int = 256
    top_answers: int = 100
    epochs: int = 30
    batch_size: int = 256
    lr: float = 4e-3
    val_fraction: float = 0.2
    patience: int = 5

    def __post_init__(self) -> None:
        for name in ("hidden", "top_answers", "epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"VQA head {name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"VQA head val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.lr <= 0:
            raise ConfigError(f"VQA head lr must be positive, got {self.lr}")


class QuestionPrior(nn.Module):
    """Question features -> answer logits: what the question alone says."""

    def __init__(self, dim: int, hidden: int, answers: int, dropout: float):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Dropout(dropout),
                                    nn.Linear(hidden, answers))

    @property
    def output(self) -> nn.Linear:
        """The last layer (its bias starts at the answers' log frequencies)."""
        layer = self.layers[-1]
        assert isinstance(layer, nn.Linear)
        return layer

    def forward(self, question: torch.Tensor) -> torch.Tensor:
        """Answer logits ``[batch, answers]``."""
        return self.layers(question)


class ImageEvidence(nn.Module):
    """The RSVQA fusion: project image and question, multiply element-wise, classify.

    Its last layer starts at zero, so before training it adds nothing to the question prior.
    """

    def __init__(self, image_dim: int, question_dim: int, hidden: int, answers: int,
                 dropout: float):
        super().__init__()
        self.image = nn.Sequential(nn.Linear(image_dim, hidden), nn.Tanh())
        self.text = nn.Sequential(nn.Linear(question_dim, hidden), nn.Tanh())
        output = nn.Linear(hidden, answers)
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                        nn.Tanh(), nn.Dropout(dropout), output)

    def forward(self, image: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        """Answer logits ``[batch, answers]`` added to the prior's."""
        return self.classifier(self.image(image) * self.text(question))


class FusionHead(nn.Module):
    """Standardised inputs; logits = question prior + evidence(image x ``use_image``, question).

    ``use_image`` is 0 when the held-out images chose the evidence trained on a constant image
    (and in the question-only baseline): the image is then replaced by that constant.
    """

    def __init__(self, image_dim: int, question_dim: int, hidden: int, answers: int,
                 dropout: float = 0.2):
        super().__init__()
        self.mean_image: torch.Tensor
        self.std_image: torch.Tensor
        self.mean_question: torch.Tensor
        self.std_question: torch.Tensor
        self.use_image: torch.Tensor
        for tower, dim in (("image", image_dim), ("question", question_dim)):
            self.register_buffer(f"mean_{tower}", torch.zeros(dim))
            self.register_buffer(f"std_{tower}", torch.ones(dim))
        self.register_buffer("use_image", torch.ones(()))
        self.prior = QuestionPrior(question_dim, hidden, answers, dropout)
        self.evidence = ImageEvidence(image_dim, question_dim, hidden, answers, dropout)

    def standardise(self, image: torch.Tensor, question: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs scaled by the training mean and standard deviation."""
        return ((image - self.mean_image) / self.std_image,
                (question - self.mean_question) / self.std_question)

    def forward(self, image: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        """Answer logits ``[batch, answers]`` of raw image and question features."""
        image, question = self.standardise(image, question)
        return self.prior(question) + self.evidence(image * self.use_image, question)


@dataclass
class TrainedHead:
    """A trained fusion head and what it needs to answer.

    Attributes:
        module: The fusion head (CPU, eval mode).
        answers: The answer vocabulary (index -> answer).
        config: Recipe, question words and types, answers per type, model checksum, the
            image stage's held-out accuracies and the loss history.
    """

    module: FusionHead
    answers: list[str]
    config: dict[str, Any] = field(default_factory=dict)

    def protocol(self) -> dict[str, Any]:
        """What a result file records about the head."""
        keys = ("recipe", "seed", "question_only", "bin_counts", "train_split",
                "train_questions", "uses_image", "image_epochs", "held_out",
                "model_checksum")
        return {"head": {k: self.config.get(k) for k in keys}}

    def question_inputs(self, text: torch.Tensor, questions: Sequence[VqaQuestion]
                        ) -> torch.Tensor:
        """The head's question features: CLIP text embedding, question words, question type."""
        return question_inputs(text, questions, self.config["words"], self.config["types"])

    def answer_mask(self, questions: Sequence[VqaQuestion]) -> torch.Tensor:
        """``[questions, answers]`` bool: the answers the question's type may take."""
        return _answer_mask(self.answers, self.config["answers_by_type"],
                            [q.type for q in questions])


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


def answer_vocabulary(train: VqaSet, top_answers: int, bin_counts: bool = False) -> list[str]:
    """The ``top_answers`` most frequent training answers (ties broken alphabetically)."""
    counts = Counter(scored_answer(q.type, q.answer, bin_counts) for q in train.questions)
    return sorted(counts, key=lambda a: (-counts[a], a))[:top_answers]


def question_words(questions: Sequence[VqaQuestion]) -> list[str]:
    """The lower-cased words of the questions, sorted (the head's word vocabulary)."""
    return sorted({w for q in questions for w in _WORD.findall(q.question.lower())})


def question_inputs(text: torch.Tensor, questions: Sequence[VqaQuestion], words: Sequence[str],
                    types: Sequence[str]) -> torch.Tensor:
    """``[questions, dim + len(words) + len(types)]``: CLIP text embedding, bag of words
    (unknown words ignored), one-hot question type (unknown types all zero)."""
    word_index = {w: i for i, w in enumerate(words)}
    type_index = {t: i for i, t in enumerate(types)}
    bag = torch.zeros(len(questions), len(words) + len(types))
    for row, q in enumerate(questions):
        for word in _WORD.findall(q.question.lower()):
            if word in word_index:
                bag[row, word_index[word]] = 1.0
        if q.type in type_index:
            bag[row, len(words) + type_index[q.type]] = 1.0
    return torch.cat([text, bag], dim=1)


def _answer_mask(answers: Sequence[str], by_type: dict[str, list[str]],
                 types: Sequence[str]) -> torch.Tensor:
    index = {a: i for i, a in enumerate(answers)}
    mask = torch.zeros(len(types), len(answers), dtype=torch.bool)
    for row, qtype in enumerate(types):
        # A type never seen in training may take any answer.
        mask[row, [index[a] for a in by_type.get(qtype, answers)]] = True
    return mask


def _features(loaded: LoadedModel, dataset: VqaSet, options: FeatureOptions | None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    images = question_image_features(loaded, dataset, options)
    texts = question_text_features(loaded, dataset, options.cache_dir if options else None)
    return images.image, texts, images.readable, images.skipped


def held_out_images(image_ids: Sequence[int], fraction: float, seed: int) -> set[int]:
    """A seeded ``fraction`` of the distinct ``image_ids`` (none with fewer than 5 images)."""
    ids = sorted(set(image_ids))
    count = round(fraction * len(ids)) if len(ids) >= 5 else 0
    random.Random(seed).shuffle(ids)
    return set(ids[:count])


def train_vqa_head(
    loaded: LoadedModel,
    train: VqaSet,
    recipe: HeadRecipe | None = None,
    *,
    seed: int = 0,
    bin_counts: bool = False,
    question_only: bool = False,
    options: FeatureOptions | None = None,
    cpu: bool = True,
) -> TrainedHead:
    """Train the head on ``train``'s questions whose answer is in the vocabulary.

    Args:
        loaded: The frozen CLIP model (its features are cached by checksum).
        train: Training questions.
        recipe: Sizes and optimisation (default :class:`HeadRecipe`).
        seed: Initialisation, batch order and held-out images.
        bin_counts: Learn (and answer) count questions as their RSVQA-LR bins.
        question_only: Replace every image by a constant: the question-only baseline.
        options: Image feature batch size and cache folder.
        cpu: Train on the CPU even when an accelerator is present (the head is tiny).

    Raises:
        InputError: No training question has a readable image and a vocabulary answer.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    recipe = recipe or HeadRecipe()
    answers = answer_vocabulary(train, recipe.top_answers, bin_counts)
    label_of = {a: i for i, a in enumerate(answers)}
    image, text, readable, _ = _features(loaded, train, options)
    labels = torch.tensor([label_of.get(scored_answer(q.type, q.answer, bin_counts), -1)
                           for q in train.questions])
    keep = readable & (labels >= 0)
    if not keep.any():
        raise InputError(f"{train.root}: no training question of split {train.split} has a "
                         "readable image and an answer; check the split's files")
    questions = [q for q, k in zip(train.questions, keep.tolist(), strict=True) if k]
    words, types = question_words(questions), sorted({q.type for q in questions})
    by_type: dict[str, list[str]] = {}
    for q in questions:
        by_type.setdefault(q.type, [])
        if scored_answer(q.type, q.answer, bin_counts) not in by_type[q.type]:
            by_type[q.type].append(scored_answer(q.type, q.answer, bin_counts))
    by_type = {t: sorted(a) for t, a in sorted(by_type.items())}
    image = torch.zeros_like(image[keep]) if question_only else image[keep]
    question = question_inputs(text[keep], questions, words, types)
    labels = labels[keep]
    mask = _answer_mask(answers, by_type, [q.type for q in questions])
    # Seeded after the features: computing them (a DataLoader) draws from the global RNG only
    # when they are not cached yet, and the question-only baseline must equal the head's branch.
    set_seed(seed)
    module = FusionHead(image.shape[1], question.shape[1], recipe.hidden, len(answers))
    for name, values in (("image", image), ("question", question)):
        getattr(module, f"mean_{name}").copy_(values.mean(0))
        getattr(module, f"std_{name}").copy_(values.std(0, unbiased=False).clamp_min(1e-6))
    # Start from the answer priors: the output bias is the log frequency of each answer.
    frequency = torch.bincount(labels, minlength=len(answers)).float() + 1.0
    with torch.no_grad():
        module.prior.output.bias.copy_(frequency.log() - frequency.log().mean())
    held_out = held_out_images([q.image_id for q in questions], recipe.val_fraction, seed)
    val = torch.tensor([q.image_id in held_out for q in questions])
    accelerator = Accelerator(cpu=cpu)
    with _one_thread():
        std_image, std_question = module.standardise(image, question)
        fit = ~val
        prior_loss = _train_prior(module.prior, std_question[fit], labels[fit], mask[fit],
                                  recipe, seed, accelerator)
        module.prior.eval()
        with torch.no_grad():
            prior_logits = module.prior(std_question)
        # The evidence on a constant image (what the question-only baseline trains) and, unless
        # this is that baseline, on the real image: the image must beat the constant.
        start = copy.deepcopy(module.evidence.state_dict())
        inputs = (std_question, prior_logits, labels, mask)
        branches = {"question_only": _train_evidence(module.evidence, start,
                                                     torch.zeros_like(std_image), inputs, val,
                                                     recipe, seed, accelerator)}
        if not question_only:
            branches["image"] = _train_evidence(module.evidence, start, std_image, inputs, val,
                                                recipe, seed, accelerator)
    blind, seen = branches["question_only"], branches.get("image")
    # Questions about one image are not independent draws: the image decides by images.
    val_images = torch.tensor([q.image_id for q in questions])[val]
    uses_image = seen is not None and (not val.any() or (
        seen.accuracies[seen.epoch] > blind.accuracies[blind.epoch]
        and _significant_by_image(blind.right, seen.right, val_images)))
    chosen = seen if uses_image and seen is not None else blind
    module.evidence.load_state_dict(chosen.state)
    module.use_image.fill_(1.0 if uses_image else 0.0)
    module = module.cpu().eval()
    config = {"dim": image.shape[1], "question_dim": question.shape[1],
              "recipe": asdict(recipe), "words": words, "types": types,
              "answers_by_type": by_type, "seed": seed, "question_only": question_only,
              "bin_counts": bin_counts, "train_split": train.split, "train_dataset": train.name,
              "train_questions": len(questions), "uses_image": uses_image,
              "image_epochs": chosen.epoch if uses_image else 0,
              "held_out": {"images": len(held_out), "questions": int(val.sum()),
                           "accuracy_by_epoch": {k: b.accuracies for k, b in branches.items()}},
              "model": str(loaded.spec), "model_checksum": loaded.checksum,
              "loss_history": {"prior": prior_loss,
                               **{k: b.losses for k, b in branches.items()}}}
    return TrainedHead(module, answers, config)


def _masked_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the question type's answers only."""
    return nn.functional.cross_entropy(logits.masked_fill(~mask, -1e4), labels)


def _prepared(module: nn.Module, count: int, recipe: HeadRecipe, seed: int, accelerator: Any
              ) -> tuple[Any, Any, Any, _Batches]:
    """``module`` and its AdamW (cosine decay over every epoch's steps) prepared by Accelerate,
    and the index batches over ``count`` questions."""
    batches = _Batches(count, recipe.batch_size, seed, accelerator.process_index,
                       accelerator.num_processes)
    optimizer = torch.optim.AdamW(module.parameters(), lr=recipe.lr, weight_decay=1e-4,
                                  foreach=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                           recipe.epochs * len(batches))
    model, optimizer = accelerator.prepare(module, optimizer)
    return model, optimizer, scheduler, batches


def _train_prior(prior: QuestionPrior, question: torch.Tensor, labels: torch.Tensor,
                 mask: torch.Tensor, recipe: HeadRecipe, seed: int, accelerator: Any
                 ) -> list[float]:
    """Stage 1: the question prior on the non-held-out questions; the mean loss per epoch."""
    model, optimizer, scheduler, batches = _prepared(prior, len(labels), recipe, seed,
                                                     accelerator)
    model.train()
    tensors = tuple(t.to(accelerator.device) for t in (question, labels, mask))
    history = _fit(lambda index: _masked_loss(model(tensors[0][index]), tensors[1][index],
                                              tensors[2][index]),
                   optimizer, scheduler, batches, accelerator, recipe.epochs)
    accelerator.unwrap_model(model).cpu()
    return history


@dataclass
class _Stage:
    """What an evidence stage kept: its best epoch (0: nothing added to the prior), that
    epoch's weights and held-out right answers, held-out accuracy per epoch, losses."""

    epoch: int
    state: dict[str, torch.Tensor]
    right: torch.Tensor
    accuracies: list[float]
    losses: list[float]


def _train_evidence(evidence: ImageEvidence, start: dict[str, torch.Tensor], image: torch.Tensor,
                    tensors: tuple[torch.Tensor, ...], val: torch.Tensor, recipe: HeadRecipe,
                    seed: int, accelerator: Any) -> _Stage:
    """Stage 2: evidence from ``image`` on top of the frozen prior, on the non-held-out images,
    from the weights ``start`` (seeded alike for every branch).

    Keeps the epoch of best held-out accuracy among those that beat the prior significantly
    (epoch 0, the prior alone, otherwise).
    """
    from accelerate.utils import set_seed

    set_seed(seed + 1)
    evidence.load_state_dict(start)
    question, prior_logits, labels, mask = tensors
    fit = (~val).nonzero().squeeze(1)
    model, optimizer, scheduler, batches = _prepared(evidence, len(fit), recipe, seed + 1,
                                                     accelerator)
    device = accelerator.device
    image, question, prior_logits, labels, mask = (t.to(device) for t in (image, *tensors))
    fit, val = fit.to(device), val.to(device)

    def held_out_right() -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            logits = prior_logits[val] + model(image[val], question[val])
        model.train()
        return logits.masked_fill(~mask[val], float("-inf")).argmax(1) == labels[val]

    def accuracy(right: torch.Tensor) -> float:
        return float(right.float().mean()) if val.any() else math.nan

    prior_right = held_out_right()  # the output layer starts at zero: the prior alone
    best = _Stage(0, copy.deepcopy(start), prior_right, [accuracy(prior_right)], [])

    def after_epoch(epoch: int) -> bool:
        right = held_out_right()
        best.accuracies.append(accuracy(right))
        if not val.any() or (best.accuracies[-1] > best.accuracies[best.epoch]
                             and _significant(prior_right, right)):
            best.epoch, best.right = epoch + 1, right
            best.state = copy.deepcopy(accelerator.unwrap_model(model).state_dict())
        return epoch + 1 - best.epoch >= recipe.patience

    model.train()
    best.losses = _fit(lambda index: _masked_loss(
        prior_logits[fit[index]] + model(image[fit[index]], question[fit[index]]),
        labels[fit[index]], mask[fit[index]]),
        optimizer, scheduler, batches, accelerator, recipe.epochs, after_epoch)
    accelerator.unwrap_model(model).cpu()
    best.right = best.right.cpu()
    return best


def _significant(before: torch.Tensor, after: torch.Tensor) -> bool:
    """Whether ``after`` answers significantly more held-out questions right than ``before``
    (sign test on the questions they disagree on, about p < 0.025 one-sided): a held-out gain
    of a few questions is noise, and keeping it made test accuracy fall below the prior's."""
    fixed = int((after & ~before).sum())
    broken = int((before & ~after).sum())
    return fixed - broken > 2 * math.sqrt(fixed + broken)


def _significant_by_image(before: torch.Tensor, after: torch.Tensor,
                          image_ids: torch.Tensor) -> bool:
    """The sign test of :func:`_significant` over held-out images instead of questions: an
    image counts as won when ``after`` answers more of its questions right. Test sets are split
    by image, so a gain on a few images' many questions must not pass as significant."""
    gain = torch.zeros(int(image_ids.max()) + 1 if len(image_ids) else 0)
    gain.index_add_(0, image_ids, after.float() - before.float())
    seen = torch.zeros_like(gain).index_add_(0, image_ids, torch.ones_like(gain[image_ids]))
    won, lost = int(((gain > 0) & (seen > 0)).sum()), int(((gain < 0) & (seen > 0)).sum())
    return won - lost > 2 * math.sqrt(won + lost)


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


def _fit(loss_of: Callable[[torch.Tensor], torch.Tensor], optimizer: Any, scheduler: Any,
         batches: _Batches, accelerator: Any, epochs: int,
         after_epoch: Callable[[int], bool] | None = None) -> list[float]:
    """The training loop; returns the mean loss of each epoch. ``after_epoch(epoch)`` returning
    True stops early."""
    history = []
    for epoch in range(epochs):
        total, seen = 0.0, 0
        for index in batches.epoch(epoch):
            loss = loss_of(index.to(accelerator.device))
            optimizer.zero_grad()
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(index)
            seen += len(index)
        history.append(total / seen)
        if after_epoch is not None and after_epoch(epoch):
            break
    return history


def head_logits(head: TrainedHead, loaded: LoadedModel, dataset: VqaSet,
                options: FeatureOptions | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The head's logits over its answers (other types' answers at -inf), which questions have
    a readable image, and the unreadable images.

    Raises:
        ConfigError: ``loaded`` is not the model the head was trained on.
    """
    if head.config.get("model_checksum") != loaded.checksum:
        raise ConfigError(f"this VQA head was trained on model {head.config.get('model')} "
                          f"({str(head.config.get('model_checksum'))[:8]}); evaluate it with "
                          f"that model, not {loaded.spec} ({loaded.checksum[:8]})")
    image, text, readable, skipped = _features(loaded, dataset, options)
    question = head.question_inputs(text, dataset.questions)
    with torch.inference_mode(), _one_thread():
        logits = head.module(image, question)
    # The question's type is part of every RSVQA record: only its answers may win.
    return logits.masked_fill(~head.answer_mask(dataset.questions), float("-inf")), readable, \
        skipped


def predict_head(head: TrainedHead, loaded: LoadedModel, dataset: VqaSet,
                 options: FeatureOptions | None = None) -> tuple[list[str | None], list[str]]:
    """The head's answer to each question (``None`` where the image is unreadable), chosen
    among the training answers of the question's type.

    Raises:
        ConfigError: ``loaded`` is not the model the head was trained on.
    """
    logits, readable, skipped = head_logits(head, loaded, dataset, options)
    best = logits.argmax(dim=1).tolist()
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
        answers = config.pop("answers")
        module = FusionHead(config["dim"], config["question_dim"],
                            config["recipe"]["hidden"], len(answers))
        module.load_state_dict(state)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise InputError(f"{folder} holds no readable VQA head ({error}); train one with "
                         "rsvl.evaluation.vqa.head.train_vqa_head and save_head") from None
    return TrainedHead(module.eval(), answers, config)
