"""Run one evaluation task (or a suite of them) and write its result file; used by the CLI
and the demo.

Tasks are a dict name -> (dataset loader, evaluator): zero-shot, retrieval, linear probe,
k-NN, VQA (zero-shot or a trained head, with its majority, per-type majority and
question-only baselines) and open-vocabulary segmentation
(:mod:`rsvl.evaluation.segmentation`). A result that already exists is kept when it records the
same request protocol (:func:`request_protocol`; interrupted suites resume), recomputed
otherwise or with ``overwrite``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rsvl.errors import ConfigError, InputError, RsvlError
from rsvl.evaluation.datasets import (
    ClassificationSet,
    RetrievalSet,
    load_classification,
    load_retrieval,
)
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.knn import knn_classify
from rsvl.evaluation.linear_probe import linear_probe
from rsvl.evaluation.prompts import DEFAULT_PRESET, get_preset, get_templates
from rsvl.evaluation.registry import find_benchmark
from rsvl.evaluation.results import (
    make_result,
    request_identity,
    result_stem,
    reusable_result,
    write_result,
)
from rsvl.evaluation.retrieval import evaluate_retrieval
from rsvl.evaluation.segmentation import (
    SegmentationSet,
    evaluate_segmentation,
    load_segmentation,
)
from rsvl.evaluation.vqa.evaluate import VqaSplits, evaluate_vqa, vqa_task
from rsvl.evaluation.vqa.head import HeadRecipe, load_head, save_head, train_vqa_head
from rsvl.evaluation.zeroshot import zero_shot_classify
from rsvl.models import LoadedModel
from rsvl.vqa.rsvl_format import list_splits, read_rsvqa

Dataset = ClassificationSet | RetrievalSet | VqaSplits | SegmentationSet


@dataclass(frozen=True)
class EvalRequest:
    """One evaluation to run.

    Attributes:
        task: ``zeroshot``, ``retrieval``, ``linear-probe``, ``knn``, ``vqa`` or
            ``segmentation``.
        dataset: Registry name, folder or caption file (VQA: an RSVQA-layout folder).
        root: Where a registered dataset lives.
        split: Evaluated split (default ``test``; VQA: the only split when there is no
            ``test``).
        preset: Zero-shot protocol preset.
        templates: Template set name or JSON file overriding the preset's.
        k_shot: Few-shot training images per class (probes).
        seed: Split seed (probes); head seed (VQA).
        k: Neighbours (k-NN).
        method: VQA: ``zero-shot`` (candidate answers scored as text) or ``head``.
        train_split: VQA training split: majority baselines, zero-shot candidates, the
            question-only baseline and the head's training data.
        prefix: VQA file prefix (``LR``, ``USGS``...) when a folder holds several.
        bin_counts: VQA: score (and learn) count answers as their RSVQA-LR bins.
        head: VQA: folder of a trained head to evaluate instead of training one.
        vqa_head: VQA: how the head and the question-only baseline are trained.
        save_head: VQA: folder to save the trained head in (an output, not protocol).
        allow_partial: Score a registered benchmark with fewer images than its release.
    """

    task: str
    dataset: str
    root: str | None = None
    split: str = "test"
    preset: str = DEFAULT_PRESET
    templates: str | None = None
    k_shot: int | None = None
    seed: int = 0
    k: int = 20
    method: str = "zero-shot"
    train_split: str | None = None
    prefix: str | None = None
    bin_counts: bool = False
    head: str | None = None
    vqa_head: HeadRecipe = field(default_factory=HeadRecipe)
    save_head: str | None = None
    allow_partial: bool = False


# The request fields that define each task's protocol (besides task and dataset).
PROTOCOL_FIELDS: dict[str, tuple[str, ...]] = {
    "zeroshot": ("preset", "templates"),
    "retrieval": ("split",),
    "linear-probe": ("k_shot", "seed"),
    "knn": ("k", "k_shot", "seed"),
    "vqa": ("split", "prefix", "method", "train_split", "bin_counts", "head", "vqa_head",
            "seed"),
    "segmentation": ("split", "preset", "templates"),
}


def request_protocol(request: EvalRequest) -> dict[str, Any]:
    """The fields of ``request`` that decide its result (JSON-able): what a stored result must
    match to be reused."""
    values = asdict(request)
    fields = PROTOCOL_FIELDS.get(request.task, ())
    return {"task": request.task, **{f: values[f] for f in fields}}


def _dataset_name(request: EvalRequest) -> str:
    benchmark = None if Path(request.dataset).exists() else find_benchmark(request.dataset)
    return benchmark.name if benchmark else Path(request.dataset).name


def _load_for_zeroshot(request: EvalRequest) -> Dataset:
    overrides = get_preset(request.preset).class_names.get(_dataset_name(request))
    return load_classification(request.dataset, request.root, overrides,
                               allow_partial=request.allow_partial)


def _load_images(request: EvalRequest) -> Dataset:
    return load_classification(request.dataset, request.root,
                               allow_partial=request.allow_partial)


def _load_captions(request: EvalRequest) -> Dataset:
    return load_retrieval(request.dataset, request.root, request.split,
                          allow_partial=request.allow_partial)


def _zeroshot_protocol(request: EvalRequest, dataset: Any) -> dict[str, Any]:
    """The preset, template set and templates a zero-shot request resolves to."""
    preset = get_preset(request.preset)
    template_set = str(request.templates or preset.template_set(dataset.name))
    return {"preset": preset.name, "template_set": template_set,
            "templates": get_templates(template_set), "ensemble": preset.ensemble}


def _zeroshot(loaded: LoadedModel, dataset: Any, request: EvalRequest,
              options: FeatureOptions) -> dict[str, Any]:
    resolved = _zeroshot_protocol(request, dataset)
    outcome = zero_shot_classify(loaded, dataset, resolved["templates"],
                                 ensemble=resolved["ensemble"], options=options)
    outcome["protocol"] |= {"preset": resolved["preset"], "template_set": resolved["template_set"]}
    return outcome


def _retrieval(loaded: LoadedModel, dataset: Any, request: EvalRequest,
               options: FeatureOptions) -> dict[str, Any]:
    return evaluate_retrieval(loaded, dataset, options=options)


def _linear_probe(loaded: LoadedModel, dataset: Any, request: EvalRequest,
                  options: FeatureOptions) -> dict[str, Any]:
    return linear_probe(loaded, dataset, k_shot=request.k_shot, seed=request.seed,
                        options=options)


def _knn(loaded: LoadedModel, dataset: Any, request: EvalRequest,
         options: FeatureOptions) -> dict[str, Any]:
    return knn_classify(loaded, dataset, k=request.k, k_shot=request.k_shot, seed=request.seed,
                        options=options)


def _load_vqa(request: EvalRequest) -> Dataset:
    path = Path(request.dataset)
    folder = path if path.exists() or not request.root else Path(request.root) / path
    names = {s for p, s in list_splits(folder) if request.prefix in (None, p)}
    # The default split is "test"; a folder without one (e.g. a sample) has a single split.
    split = None if request.split == "test" and "test" not in names else request.split
    evaluated = read_rsvqa(folder, split, request.prefix)
    train = read_rsvqa(folder, request.train_split, request.prefix) if request.train_split \
        else None
    if request.method == "head" and not (request.head or train):
        raise ConfigError("VQA method 'head' needs a trained head (--head FOLDER) or a "
                          "training split to train one (--train-split)")
    return VqaSplits(evaluated, train)


def _vqa(loaded: LoadedModel, dataset: Any, request: EvalRequest,
         options: FeatureOptions) -> dict[str, Any]:
    head = None
    if request.method == "head":
        head = load_head(request.head) if request.head else train_vqa_head(
            loaded, dataset.train, request.vqa_head, seed=request.seed,
            bin_counts=request.bin_counts, options=options)
        if request.save_head:
            save_head(head, request.save_head)
    return evaluate_vqa(loaded, dataset.evaluated, method=request.method, train=dataset.train,
                        head=head, bin_counts=request.bin_counts, recipe=request.vqa_head,
                        seed=request.seed, options=options)


def _load_segmentation(request: EvalRequest) -> Dataset:
    return load_segmentation(request.dataset, request.split)


def _segmentation(loaded: LoadedModel, dataset: Any, request: EvalRequest,
                  options: FeatureOptions) -> dict[str, Any]:
    resolved = _zeroshot_protocol(request, dataset)
    outcome = evaluate_segmentation(loaded, dataset, resolved["templates"],
                                    ensemble=resolved["ensemble"], batch_size=options.batch_size)
    outcome["protocol"] |= {"preset": resolved["preset"], "template_set": resolved["template_set"]}
    return outcome


Evaluator = Callable[[LoadedModel, Any, EvalRequest, FeatureOptions], dict[str, Any]]
TASKS: dict[str, tuple[Callable[[EvalRequest], Dataset], Evaluator]] = {
    "zeroshot": (_load_for_zeroshot, _zeroshot),
    "retrieval": (_load_captions, _retrieval),
    "linear-probe": (_load_images, _linear_probe),
    "knn": (_load_images, _knn),
    "vqa": (_load_vqa, _vqa),
    "segmentation": (_load_segmentation, _segmentation),
}


def run_evaluation(
    loaded: LoadedModel,
    request: EvalRequest,
    out_dir: str | Path,
    options: FeatureOptions | None = None,
    *,
    overwrite: bool = False,
    command: Sequence[str] | None = None,
) -> tuple[Path, dict[str, Any] | None]:
    """Evaluate and write the result; returns ``(path, result)``, result None when a stored
    result of the same request protocol was kept."""
    if request.task not in TASKS:
        raise InputError(f"unknown task {request.task!r}; choose from {', '.join(TASKS)}")
    load, evaluate = TASKS[request.task]
    dataset = load(request)
    preset = request.preset if request.task == "zeroshot" else None
    variant = f"{request.k_shot}shot" if request.k_shot and request.task in ("linear-probe",
                                                                            "knn") else None
    task = vqa_task(request.method) if request.task == "vqa" else request.task
    protocol = request_protocol(request)
    resolved = _zeroshot_protocol(request, dataset) if request.task in ("zeroshot",
                                                                         "segmentation") else None
    identity = request_identity(protocol, dataset, loaded, resolved)
    stem = result_stem(task, dataset.name, dataset.split, str(loaded.spec),
                       loaded.checksum, preset, variant, identity)
    existing = Path(out_dir) / f"{stem}.json"
    if not overwrite and reusable_result(existing, identity):
        return existing, None
    outcome = evaluate(loaded, dataset, request, options or FeatureOptions())
    result = make_result(outcome, loaded, preset=preset, command=command,
                         identity=identity) | {"request": protocol}
    return write_result(out_dir, result), result


def read_suite(path: str | Path) -> dict[str, Any]:
    """A suite file: ``{"name", "preset"?, "runs": [{"task", "datasets": [...]}]}``."""
    path = Path(path)
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"suite file {path} not found; see eval/suites/*.json") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not valid JSON ({error.msg}, line {error.lineno})") from None
    runs = suite.get("runs") if isinstance(suite, dict) else None
    if not isinstance(runs, list) or not all("task" in r and "datasets" in r for r in runs):
        raise InputError(f"{path} must hold {{'runs': [{{'task': ..., 'datasets': [...]}}]}}")
    return suite


def suite_requests(suite: dict[str, Any], root: str | None) -> list[EvalRequest]:
    """The requests of a suite, in order.

    ``root`` is the folder holding the datasets, each under its registry ``dirname`` (never
    ``root`` itself: a missing dataset must not fall back to its siblings' folder).
    """
    base = {k: suite[k] for k in ("preset",) if k in suite}
    requests = []
    for run in suite["runs"]:
        options = {k: v for k, v in run.items() if k not in ("task", "datasets")}
        if isinstance(options.get("vqa_head"), dict):
            options["vqa_head"] = _head_recipe(options["vqa_head"])
        for name in run["datasets"]:
            benchmark = find_benchmark(name)
            home = str(Path(root) / benchmark.dirname) if root and benchmark else root
            requests.append(EvalRequest(task=run["task"], dataset=name, root=home, **base,
                                        **options))
    return requests


def _head_recipe(values: dict[str, Any]) -> HeadRecipe:
    try:
        return HeadRecipe(**values)
    except TypeError as error:
        raise InputError(f"suite vqa_head: {error}; fields: "
                         f"{', '.join(HeadRecipe.__dataclass_fields__)}") from None


def run_requests(
    loaded: LoadedModel,
    requests: Sequence[EvalRequest],
    out_dir: str | Path,
    options: FeatureOptions,
    *,
    overwrite: bool = False,
    report: Callable[[str], None] = print,
) -> list[Path]:
    """Run several requests; one whose dataset is missing or broken is reported and skipped
    (unless ``options.strict``)."""
    written = []
    for request in requests:
        label = f"{request.task} {request.dataset}"
        try:
            path, result = run_evaluation(loaded, request, out_dir, options,
                                          overwrite=overwrite)
        except RsvlError as error:
            if options.strict:
                raise
            report(f"skipped {label}: {error}")
            continue
        report(f"{label}: {'kept existing' if result is None else 'wrote'} {path}")
        written.append(path)
    return written
